using RegionChat.Data.Text;
using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests.ClipText;

/// <summary>The CLIP text tower against the reference CLIP of ../shared/goldens/alphaclip/clip-tiny, in both key layouts.</summary>
public sealed class ClipTextGoldenTests
{
    const string Folder = "goldens/alphaclip/clip-tiny";

    static (Dictionary<string, Tensor> Io, ClipModelConfig Config, string Dir) Golden()
    {
        string dir = SharedFiles.Require(Folder);
        return (StateDictFile.ReadSafetensors(Path.Combine(dir, "io.safetensors")), ClipModelConfig.FromJsonFile(Path.Combine(dir, "config.json")), dir);
    }

    static Tensor Ends(Tensor tokens) => tokens.argmax(1);

    [SkippableTheory]
    [InlineData("clip.pth")]
    [InlineData("text-hf.safetensors")]
    public void Text_features_match_the_reference(string weights)
    {
        var (io, config, dir) = Golden();
        var (model, scale) = ClipTextTransformer.LoadCheckpoint(Path.Combine(dir, weights), config.Text);
        using var _ = model;
        using var features = model.EncodeTokens(io["tokens"], Ends(io["tokens"]));
        TensorAssert.Close(io["text_features"], features, 1e-4, $"{weights} text_features");
        Assert.NotNull(scale);
    }

    [SkippableFact]
    public void Dimensions_are_read_off_the_weights_when_the_heads_are_given()
    {
        var (_, config, dir) = Golden();
        using var weights = ClipTextCheckpoint.Load(Path.Combine(dir, "text-hf.safetensors"));
        Assert.Equal(config.Text, ClipTextConfig.InferFrom(weights.Weights, heads: config.Text!.Heads));
        Assert.Equal(new ClipTextConfig(77, 49408, 64, 2, 4, 32), config.Text);
    }

    [SkippableTheory]
    [InlineData("clip.pth", null)]
    [InlineData("visual.pth", "text-hf.safetensors")]
    public void Zero_shot_logits_match_the_reference(string weights, string? textWeights)
    {
        var (io, config, dir) = Golden();
        using var vision = AlphaClipVisionTransformer.Load(Path.Combine(dir, weights), config.Vision);
        var (text, scale) = ClipTextTransformer.LoadCheckpoint(Path.Combine(dir, textWeights ?? weights), config.Text);
        using var _ = text;
        using var scope = NewDisposeScope();
        var imageFeatures = vision.EncodePooled(io["image"], io["alpha"]);
        TensorAssert.Close(io["image_features"], imageFeatures, 1e-4, "image_features");
        var logits = ClipZeroShot.Logits(imageFeatures, text.EncodeTokens(io["tokens"], Ends(io["tokens"])), scale!.Value);
        TensorAssert.Close(io["logits"], logits, 1e-3, "logits");
    }

    [SkippableFact]
    public void The_shipped_tokenizer_gives_the_reference_tokens()
    {
        var (io, _, _) = Golden();
        var tokens = io["tokens"];
        var labels = System.Text.Json.JsonDocument.Parse(File.ReadAllText(SharedFiles.Require(Folder + "/labels.json")));
        var prompts = labels.RootElement.GetProperty("prompts").EnumerateArray().Select(e => e.GetString()!).ToArray();
        for (int i = 0; i < prompts.Length; i++)
        {
            var ids = ClipBpeTokenizer.Default.Tokenize(prompts[i]).Ids.Select(x => (long)x).ToArray();
            var row = tokens[i].data<long>().ToArray();
            Assert.Equal(row[..ids.Length], ids);
            Assert.All(row[ids.Length..], id => Assert.Equal(0L, id));
        }
    }

    [Fact]
    public void A_visual_only_checkpoint_is_refused_as_text_weights_naming_why()
    {
        using var temp = new TempDir();
        string path = temp.File("visual.safetensors");
        using (var conv = zeros(8, 3, 4, 4)) StateDictFile.WriteSafetensors(path, [new("conv1.weight", conv)]);
        var e = Assert.Throws<InvalidDataException>(() => ClipTextTransformer.LoadCheckpoint(path));
        Assert.Contains("holds no CLIP text tower", e.Message);
        Assert.StartsWith(path, e.Message);
    }
}
