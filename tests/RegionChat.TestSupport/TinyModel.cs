using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using TorchSharp;

namespace RegionChat.TestSupport;

/// <summary>
/// Writes a tiny region-chat model folder with random weights (Alpha-CLIP tower, projector, llama GGUF with a shapes
/// vocabulary) and its model.json. Real files through the real loaders: only the weights are random, so answers are
/// gibberish but deterministic, which is what pipeline, concurrency and server tests need.
/// </summary>
public static class TinyModel
{
    public const int Resolution = 64, Patch = 16, VisionWidth = 32, Embd = 64;

    /// <summary>Writes the model into <paramref name="dir"/> (created) and returns it.</summary>
    /// <param name="contextLength">The GGUF's llama.context_length: what a session may hold at most (the test servers
    /// serve 4096 cells).</param>
    public static string Write(string dir, int seed = 1, string? extraManifest = null, int contextLength = 4096)
    {
        Directory.CreateDirectory(dir);
        torch.manual_seed(seed);
        var config = new AlphaClipConfig(Resolution, Patch, VisionWidth, 2, 2, 32);
        using (var vision = new AlphaClipVisionTransformer(config))
        {
            using (torch.no_grad()) vision.state_dict()["conv1_alpha.weight"].normal_(0, 0.5); // make the region matter
            StateDictFile.WriteSafetensors(Path.Combine(dir, "vision.safetensors"), vision.state_dict());
        }
        File.WriteAllText(Path.Combine(dir, "vision.json"), config.ToJson());
        using (var projector = new LlavaProjector(VisionWidth, Embd))
            StateDictFile.WriteSafetensors(Path.Combine(dir, "projector.safetensors"),
                projector.state_dict().Select(kv => KeyValuePair.Create("model.mm_projector." + kv.Key, kv.Value)));
        var words = ShapesCorpus.Words.Concat(["USER:", "ASSISTANT:", "<image>", "chat", "about", "shapes"]).Distinct();
        var vocab = LlamaVocabulary.FromWords(words);
        var shape = new LlamaShape(Embd, 2, 4, 2, 128, vocab.Count, ContextLength: contextLength);
        LlamaGgufSynth.Write(Path.Combine(dir, "llm.gguf"), shape, vocab, GgmlType.F32, (ulong)seed);
        File.WriteAllText(Path.Combine(dir, "model.json"), $$"""
            {
              "description": "tiny random test model (seed {{seed}})",
              "vision": { "weights": "vision.safetensors", "config": "vision.json", "preprocess": "pad", "feature_layer": -2 },
              "projector": { "weights": "projector.safetensors" },
              "llm": { "gguf": "llm.gguf", "template": "llava_v1", "system_prompt": "a chat about shapes" }{{extraManifest}}
            }
            """);
        return dir;
    }
}
