using RegionChat.TestSupport;

namespace RegionChat.Inference.Tests;

public class ModelManifestTests
{
    static void WriteFiles(string dir, params string[] names)
    {
        foreach (var n in names) File.WriteAllText(Path.Combine(dir, n), "x");
    }

    const string Valid = """
        {
          // comments are allowed
          "description": "test",
          "vision": { "weights": "v.safetensors", "preprocess": "crop", "feature_layer": -1 },
          "projector": { "weights": "p.safetensors" },
          "llm": { "gguf": "l.gguf", "template": "vicuna_v1", "stop": ["</s>"] },
          "default_instruction": "what is this?"
        }
        """;

    [Fact]
    public void LoadsAndResolvesInsideTheFolder()
    {
        using var t = new TempDir();
        var dir = Directory.CreateDirectory(Path.Combine(t.Path, "my-model")).FullName;
        WriteFiles(dir, "v.safetensors", "p.safetensors", "l.gguf");
        File.WriteAllText(Path.Combine(dir, "model.json"), Valid);
        var m = ModelManifest.Load(dir);
        Assert.Equal("my-model", m.Id);
        Assert.Equal("crop", m.Vision.Preprocess);
        Assert.Equal(-1, m.Vision.FeatureLayer);
        Assert.Equal("vicuna_v1", m.Llm.Template);
        Assert.Equal(["</s>"], m.Llm.Stop);
        Assert.Equal(Path.Combine(dir, "l.gguf"), m.Resolve(m.Llm.Gguf, "llm.gguf"));
        Assert.Equal([dir], ModelManifest.Discover(t.Path));
    }

    [Theory]
    [InlineData("\"gguf\": \"l.gguf\"", "\"gguf\": \"../outside.gguf\"", "leaves the model folder")]
    [InlineData("\"gguf\": \"l.gguf\"", "\"gguf\": \"/etc/passwd\"", "must be relative")]
    [InlineData("\"gguf\": \"l.gguf\"", "\"gguf\": \"missing.gguf\"", "not found")]
    [InlineData("\"preprocess\": \"crop\"", "\"preprocess\": \"stretch\"", "vision.preprocess")]
    [InlineData("\"preprocess\": \"crop\"", "\"preprocess\": \"crop\", \"select_feature\": \"cls\"", "vision.select_feature")]
    [InlineData("\"template\": \"vicuna_v1\"", "\"template\": \"chatml\"", "llm.template")]
    [InlineData("\"weights\": \"p.safetensors\"", "\"weights\": \"p.safetensors\", \"mmproj\": \"l.gguf\"", "exactly one")]
    [InlineData("\"description\": \"test\",", "\"descripton\": \"typo\",", "descripton")]
    [InlineData("\"description\": \"test\",", "\"description\": \"test\"", "is invalid after a value")]
    public void RejectsBadManifestsWithAClearMessage(string from, string to, string expected)
    {
        using var t = new TempDir();
        File.WriteAllText(Path.Combine(t.Path, "outside.gguf"), "x");
        var dir = Directory.CreateDirectory(Path.Combine(t.Path, "m")).FullName;
        WriteFiles(dir, "v.safetensors", "p.safetensors", "l.gguf");
        File.WriteAllText(Path.Combine(dir, "model.json"), Valid.Replace(from, to));
        var e = Assert.Throws<ModelManifestException>(() => ModelManifest.Load(dir));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingManifestIsAClearError()
    {
        using var t = new TempDir();
        var e = Assert.Throws<ModelManifestException>(() => ModelManifest.Load(t.Path));
        Assert.Contains("no model.json", e.Message);
    }
}
