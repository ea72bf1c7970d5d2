using RegionChat.TestSupport;

namespace RegionChat.Inference.Tests;

/// <summary>model.json's optional "download" list (what `regionchat pull` fetches): read before the files exist,
/// every entry checked, and ignored by loading once the files are there.</summary>
public class ManifestDownloadListTests
{
    const string Sha = "7ac9c2f7b8d76cc7f3118cdf0953ebab7a7a9b12bad5dbe237219d2ab61765ea";
    const string Commit = "9b713a64048c7f982ec3969e60e9f61f7a2730c2";

    static readonly string Valid = $$"""
        {
          "vision": { "weights": "v.pth" },
          "projector": { "mmproj": "p.gguf" },
          "llm": { "gguf": "l.gguf" },
          "download": [
            { "path": "v.pth", "url": "https://example.org/weights/v.pth", "sha256": null, "bytes": null, "note": "no published hash" },
            { "path": "p.gguf", "url": "https://huggingface.co/o/r/resolve/{{Commit}}/p.gguf", "sha256": "{{Sha}}", "bytes": 624 },
            { "path": "l.gguf", "url": "https://huggingface.co/o/r/resolve/{{Commit}}/l.gguf", "sha256": "{{Sha.ToUpperInvariant()}}" }
          ]
        }
        """;

    static string WriteManifest(TempDir t, string json)
    {
        var dir = Directory.CreateDirectory(Path.Combine(t.Path, "deploy", "real")).FullName;
        File.WriteAllText(Path.Combine(dir, "model.json"), json);
        return Path.Combine(dir, "model.json");
    }

    [Fact]
    public void ReadsTheListBeforeTheFilesExistAndLoadsOnceTheyDo()
    {
        using var t = new TempDir();
        string path = WriteManifest(t, Valid);
        var m = ModelManifest.ReadForDownload(path);
        Assert.Equal("real", m.Id);
        Assert.Equal(["v.pth", "p.gguf", "l.gguf"], m.Download!.Select(d => d.Path));
        Assert.Null(m.Download![0].Sha256);
        Assert.Equal(624, m.Download![1].Bytes);
        Assert.Throws<ModelManifestException>(() => ModelManifest.Load(Path.GetDirectoryName(path)!)); // files not there yet

        foreach (var f in new[] { "v.pth", "p.gguf", "l.gguf" }) File.WriteAllText(Path.Combine(Path.GetDirectoryName(path)!, f), "x");
        Assert.Equal(3, ModelManifest.Load(Path.GetDirectoryName(path)!).Download!.Count);
    }

    [Theory]
    [InlineData($"/resolve/{Commit}/p.gguf", "/resolve/main/p.gguf", "download[1].url must be pinned to a revision")]
    [InlineData($"https://huggingface.co/o/r/resolve/{Commit}/l.gguf", $"https://huggingface.co/o/r/blob/{Commit}/l.gguf", "download[2].url is a /blob/ page")]
    [InlineData("https://example.org/weights/v.pth", "ftp://example.org/v.pth", "download[0].url must be an absolute http(s) URL")]
    [InlineData($"\"sha256\": \"{Sha}\"", "\"sha256\": \"abc\"", "download[1].sha256 must be 64 hex digits")]
    [InlineData(", \"note\": \"no published hash\"", "", "download[0].note must say why")]
    [InlineData("\"bytes\": 624", "\"bytes\": 0", "download[1].bytes must be positive")]
    [InlineData("{ \"path\": \"v.pth\"", "{ \"path\": \"../v.pth\"", "download[0].path '../v.pth' leaves the model folder")]
    [InlineData("{ \"path\": \"p.gguf\"", "{ \"path\": \"model.json\"", "download[1].path must not be model.json")]
    [InlineData("{ \"path\": \"p.gguf\"", "{ \"path\": \"l.gguf\"", "'l.gguf' is listed twice")]
    [InlineData("{ \"path\": \"p.gguf\"", "{ \"path\": \"q.gguf\"", "projector.mmproj 'p.gguf' is not in the download list")]
    [InlineData("\"template\": \"x\"", "", "")]
    public void RejectsABadListNamingTheField(string from, string to, string expected)
    {
        using var t = new TempDir();
        string path = WriteManifest(t, Valid.Replace(from, to));
        if (expected == "")
        {
            ModelManifest.ReadForDownload(path); // the unmodified manifest reads: the cases above fail for their change only
            return;
        }
        var e = Assert.Throws<ModelManifestException>(() => ModelManifest.ReadForDownload(path));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AManifestWithoutADownloadListCannotBePulled()
    {
        using var t = new TempDir();
        string path = WriteManifest(t, """{ "vision": { "weights": "v.pth" }, "projector": { "mmproj": "p.gguf" }, "llm": { "gguf": "l.gguf" } }""");
        var e = Assert.Throws<ModelManifestException>(() => ModelManifest.ReadForDownload(path));
        Assert.Contains("has no download list", e.Message);
    }

    [Fact]
    public void TheCommittedRealWeightsManifestIsPinnedAndSaysWhatIsUnverified()
    {
        var m = ModelManifest.ReadForDownload(Path.Combine(SharedFiles.RepoRoot, "deploy", "alphaclip-llava-1.5-7b", "model.json"));
        Assert.Equal("alphaclip-llava-1.5-7b", m.Id);
        Assert.Equal(["ggml-model-q4_k.gguf", "mmproj-model-f16.gguf", "clip_l14_336_grit1m_fultune_8xe.pth", "clip-vit-large-patch14-336.bin"],
            m.Download!.Select(d => d.Path));
        Assert.All(m.Download!.Where(d => d.Url.Contains("mys/ggml_llava")), d => Assert.Contains($"/resolve/{Commit}/", d.Url));
        Assert.Contains("unpinned", m.Download!.Single(d => d.Url.Contains("/resolve/main/")).Note);
        Assert.Equal(m.Classifier!.TextWeights, m.Download![3].Path);
        Assert.Equal(Sha, m.Download![0].Sha256);
        Assert.All(m.Download!.Where(d => d.Sha256 == null), d => Assert.Contains("unverified", d.Note));
    }
}
