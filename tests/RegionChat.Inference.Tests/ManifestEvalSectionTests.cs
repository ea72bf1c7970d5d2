using RegionChat.TestSupport;

namespace RegionChat.Inference.Tests;

/// <summary>model.json's optional "eval" section (files only `eval shapes` reads) resolves like every other file.</summary>
public class ManifestEvalSectionTests
{
    static string Write(TempDir t, string eval, params string[] files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(t.Path, "m")).FullName;
        foreach (var f in new[] { "v.safetensors", "p.safetensors", "l.gguf" }.Concat(files)) File.WriteAllText(Path.Combine(dir, f), "x");
        File.WriteAllText(Path.Combine(dir, "model.json"), $$"""
            {
              "vision": { "weights": "v.safetensors" },
              "projector": { "weights": "p.safetensors" },
              "llm": { "gguf": "l.gguf" }{{eval}}
            }
            """);
        return dir;
    }

    [Fact]
    public void NamesTheStage1TowerInsideTheFolder()
    {
        using var t = new TempDir();
        var dir = Write(t, """, "eval": { "clip_vision": { "weights": "clip-vision.safetensors", "config": "clip-vision.json" } }""",
            "clip-vision.safetensors", "clip-vision.json");
        var m = ModelManifest.Load(dir);
        Assert.Equal("clip-vision.safetensors", m.Eval?.ClipVision?.Weights);
        Assert.Equal(Path.Combine(dir, "clip-vision.json"), m.Resolve(m.Eval!.ClipVision!.Config!, "eval.clip_vision.config"));
        using var t2 = new TempDir();
        Assert.Null(ModelManifest.Load(Write(t2, "")).Eval);
    }

    [Theory]
    [InlineData("""{ "clip_vision": { "weights": "missing.safetensors" } }""", "eval.clip_vision.weights file 'missing.safetensors' not found")]
    [InlineData("""{ "clip_vision": { "weights": "../v.safetensors" } }""", "leaves the model folder")]
    [InlineData("""{ "clip_vision": { "weights": "v.safetensors", "config": "nope.json" } }""", "eval.clip_vision.config")]
    [InlineData("""{ "clip_visoin": {} }""", "clip_visoin")]
    public void RefusesBadEvalFiles(string eval, string expected)
    {
        using var t = new TempDir();
        var dir = Write(t, $", \"eval\": {eval}");
        var e = Assert.Throws<ModelManifestException>(() => ModelManifest.Load(dir));
        Assert.Contains(expected, e.Message);
    }
}
