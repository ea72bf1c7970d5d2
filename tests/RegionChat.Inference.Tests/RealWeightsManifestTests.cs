using System.Text;
using RegionChat.Data.Text;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;
using RegionChat.Vision;
using TorchSharp;
using TorchSharp.PyBridge;

namespace RegionChat.Inference.Tests;

/// <summary>
/// deploy/alphaclip-llava-1.5-7b/model.json wires an Alpha-CLIP .pth (torch.save), a llama.cpp mmproj GGUF and a llama
/// GGUF. The real files cannot be downloaded here, so this writes tiny files of the same formats under the same names and
/// loads the committed manifest unchanged.
/// </summary>
public class RealWeightsManifestTests
{
    [Fact]
    public async Task CommittedManifestLoadsFilesOfTheRealFormats()
    {
        using var t = new TempDir();
        string dir = Directory.CreateDirectory(t.File("alphaclip-llava-1.5-7b")).FullName;
        File.Copy(Path.Combine(SharedFiles.RepoRoot, "deploy", "alphaclip-llava-1.5-7b", "model.json"), Path.Combine(dir, "model.json"));
        const int width = 64, embd = 96; // heads inferred as width/64, as for the released checkpoints

        // 1. Alpha-CLIP visual checkpoint as torch.save writes it, OpenAI-CLIP attention names, no "visual." prefix.
        torch.manual_seed(3);
        using (var vision = new AlphaClipVisionTransformer(new AlphaClipConfig(28, 14, width, 3, 1, 32)))
        {
            var sd = vision.state_dict().ToDictionary(
                kv => kv.Key.Replace("attn.in_proj.weight", "attn.in_proj_weight").Replace("attn.in_proj.bias", "attn.in_proj_bias"), kv => kv.Value);
            using var f = File.Create(Path.Combine(dir, "clip_l14_336_grit1m_fultune_8xe.pth"));
            PyTorchPickler.PickleStateDict(f, sd);
        }

        // 2. mmproj GGUF with clip.* metadata and the LLaVA projector as mm.0 / mm.2 (F16 weights, as in mmproj-model-f16).
        using (var projector = new LlavaProjector(width, embd))
        {
            var w = new GgufWriter();
            w.AddString("general.architecture", "clip");
            w.AddBool("clip.has_vision_encoder", true);
            w.AddBool("clip.has_llava_projector", true);
            w.AddString("clip.projector_type", "mlp");
            w.AddUInt32("clip.vision.image_size", 28);
            w.AddUInt32("clip.vision.patch_size", 14);
            w.AddUInt32("clip.vision.embedding_length", width);
            foreach (var (key, value) in projector.state_dict())
            {
                var ne = value.shape.Reverse().ToArray();
                w.AddTensor("mm." + key, ne, key.EndsWith("weight") ? GgmlType.F16 : GgmlType.F32, value.contiguous().data<float>().ToArray());
            }
            w.Write(Path.Combine(dir, "mmproj-model-f16.gguf"));
        }

        // 3. The LLM as a llama GGUF (Q8_0 stands in for Q4_K: both are quantised llama.cpp types).
        var vocab = LlamaVocabulary.FromWords(["describe", "this", "region", "in", "detail.", "a", "red", "circle"]);
        LlamaGgufSynth.Write(Path.Combine(dir, "ggml-model-q4_k.gguf"), new LlamaShape(embd, 2, 4, 4, 192, vocab.Count), vocab, GgmlType.Q8_0, 5);

        // 4. The classifier's CLIP text tower (OpenAI layout, CLIP's BPE vocabulary, heads read off the width as for the real
        //    weights), 32-wide features like the image tower's.
        using (var textTower = new ClipTextTransformer(new ClipTextConfig(77, 49408, 64, 1, 1, 32), ClipBpeTokenizer.Default))
        {
            using var f = File.Create(Path.Combine(dir, "clip-vit-large-patch14-336.bin"));
            PyTorchPickler.PickleStateDict(f, textTower.state_dict());
        }

        using var model = RegionChatModel.Load(dir, new RegionChatModelOptions { ContextSize = 512, Threads = 1 });
        Assert.True(model.HasClassifier);
        var labels = model.Classifier.LabelFeatures(["red circle", "blue square"]);
        Assert.Equal(2, labels.Length);
        Assert.All(labels, f => Assert.Equal(32, f.Length));
        Assert.Equal(["a photo of a red circle."], model.Classifier.Prompts("red circle"));
        Assert.Equal("alphaclip-llava-1.5-7b", model.Id);
        Assert.Equal(28, model.Vision.Config.InputResolution);
        Assert.Equal(1, model.Vision.Config.Heads);
        Assert.Equal("mlp2x_gelu", model.Projector.ProjectorType);
        Assert.Equal("llava_v1", model.Template.Name);
        Assert.Equal("Describe this region in detail.", model.Manifest.DefaultInstruction);

        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(40, 30);
        var tokens = model.Encode(image, new RegionChat.Vision.Regions.BoxRegion(0, 0, 20, 15));
        Assert.Equal(4, tokens.Count);
        Assert.Equal(embd, tokens.Width);
        using var chat = model.StartChat();
        var text = new StringBuilder();
        GenerationFinished? done = null;
        await foreach (var e in chat.GenerateAsync(ChatMessage.User(model.Manifest.DefaultInstruction, tokens.Block), SamplingParams.Greedy(4)))
            if (e is TextPiece p) text.Append(p.Text); else if (e is GenerationFinished f) done = f;
        Assert.NotNull(done);
        Assert.True(done!.Usage.PromptTokens > tokens.Count);
    }
}
