using System.Diagnostics;
using System.Globalization;
using RegionChat.Inference;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.Vision;
using TorchSharp;

namespace RegionChat.Cli.Commands;

/// <summary>
/// Writes a region-chat model folder with seeded random weights for benchmarking when no trained model exists: a
/// LLaVA-like layout scaled down from TinyLlama + ViT (an Alpha-CLIP tower at 224 px, patch 14, width 256 → 256 visual
/// tokens; an mlp2x_gelu projector; a llama GGUF 512 wide, 8 layers, grouped-query attention, f16). Real files through
/// the real loaders, so the serving path does the work a trained model of this size would.
/// </summary>
internal static class BenchModelSynth
{
    public sealed record Shape(
        int Resolution = 224, int Patch = 14, int VisionWidth = 256, int VisionLayers = 6, int VisionHeads = 4,
        int Embd = 512, int Layers = 8, int Heads = 8, int KvHeads = 4, int FeedForward = 1408, int Vocab = 8000,
        GgmlType WeightType = GgmlType.F16);

    /// <summary>
    /// The model folder a benchmark runs on: `--model DIR` (it must hold a manifest), or with `--synth` the folder
    /// `--synth-dir` names (written unless it already holds a model) or a new temp folder holding <paramref name="name"/>,
    /// which <paramref name="temp"/> returns for the caller to delete.
    /// </summary>
    public static string Folder(DirectoryInfo? model, bool synth, DirectoryInfo? synthDir, Shape shape, string name, TextWriter log, out string? temp)
    {
        temp = null;
        if (!synth)
        {
            if (synthDir != null) throw new ArgumentException("--synth-dir goes with --synth");
            string given = model?.FullName ?? throw new ArgumentException("give --model DIR (a model folder) or --synth");
            if (!File.Exists(Path.Combine(given, ModelManifest.FileName))) throw new ArgumentException($"--model: no {ModelManifest.FileName} in {given}");
            return given;
        }
        if (model != null) throw new ArgumentException("give --model DIR or --synth, not both");
        string dir;
        if (synthDir != null) dir = synthDir.FullName;
        else
        {
            temp = Directory.CreateTempSubdirectory($"regionchat-{name}-").FullName;
            dir = Path.Combine(temp, name);
        }
        if (File.Exists(Path.Combine(dir, ModelManifest.FileName))) log.WriteLine($"reusing the benchmark model in {dir}");
        else
        {
            var clock = Stopwatch.StartNew();
            Write(dir, shape);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote a random-weight benchmark model to {dir} in {clock.Elapsed.TotalSeconds:F1} s"));
        }
        return dir;
    }

    /// <summary>Writes the model into <paramref name="dir"/> (created) and returns it.</summary>
    public static string Write(string dir, Shape shape, int seed = 7)
    {
        Directory.CreateDirectory(dir);
        torch.manual_seed(seed);
        var config = new AlphaClipConfig(shape.Resolution, shape.Patch, shape.VisionWidth, shape.VisionLayers, shape.VisionHeads, shape.VisionWidth).Validate();
        using (var vision = new AlphaClipVisionTransformer(config))
        {
            // A non-zero alpha conv, as after Alpha-CLIP training, so the region changes the visual tokens.
            using (torch.no_grad()) vision.state_dict()["conv1_alpha.weight"].normal_(0, 0.02);
            StateDictFile.WriteSafetensors(Path.Combine(dir, "vision.safetensors"), vision.state_dict());
        }
        File.WriteAllText(Path.Combine(dir, "vision.json"), config.ToJson());
        using (var projector = new LlavaProjector(shape.VisionWidth, shape.Embd))
            StateDictFile.WriteSafetensors(Path.Combine(dir, "projector.safetensors"),
                projector.state_dict().Select(kv => KeyValuePair.Create("model.mm_projector." + kv.Key, kv.Value)));

        int natural = LlamaVocabulary.BuiltInEnglish().Count;
        var vocabulary = LlamaVocabulary.BuiltInEnglish(Math.Max(natural, shape.Vocab));
        var llm = new LlamaShape(shape.Embd, shape.Layers, shape.Heads, shape.KvHeads, shape.FeedForward, vocabulary.Count, ContextLength: 4096);
        llm.Validate();
        LlamaGgufSynth.Write(Path.Combine(dir, "llm.gguf"), llm, vocabulary, shape.WeightType, (ulong)seed);
        string description = $"random-weight benchmark model (regionchat bench server --synth, seed {seed}): vision {shape.Resolution} px / " +
            $"{shape.Patch} / width {shape.VisionWidth} x {shape.VisionLayers}, LLM {shape.Embd} x {shape.Layers}";
        File.WriteAllText(Path.Combine(dir, "model.json"), $$"""
            {
              "description": "{{description}}",
              "vision": { "weights": "vision.safetensors", "config": "vision.json", "preprocess": "pad", "feature_layer": -2 },
              "projector": { "weights": "projector.safetensors" },
              "llm": { "gguf": "llm.gguf", "template": "llava_v1" }
            }
            """);
        return dir;
    }
}
