using RegionChat.TestSupport;

namespace RegionChat.Inference.Tests;

/// <summary>A default model the server cannot find says where it looked and what it found there.</summary>
public class DefaultModelMissingTests
{
    [Fact]
    public void AModelWhosePullHasNotFinishedSaysSoAndHowToResumeIt()
    {
        using var temp = new TempDir();
        string models = Directory.CreateDirectory(temp.File("models")).FullName;
        TinyModel.Write(Path.Combine(models, "tiny"));
        // `pull` writes model.json last: until then the folder holds its downloads, some partial.
        string pulling = Directory.CreateDirectory(Path.Combine(models, "real")).FullName;
        File.WriteAllBytes(Path.Combine(pulling, "llm.gguf.partial"), new byte[16]);

        using var core = new RegionChatCore(new RegionChatCoreOptions { ModelsPath = models, DefaultModel = "real" });
        var e = Assert.Throws<ModelManifestException>(() => core.LoadDefaultModel());
        Assert.Contains("the default model 'real' is not in", e.Message);
        Assert.Contains("models found: tiny", e.Message);
        Assert.Contains("holds partial downloads: its pull has not finished (rerun `regionchat pull real` to resume it)", e.Message);

        using var absent = new RegionChatCore(new RegionChatCoreOptions { ModelsPath = models, DefaultModel = "nowhere" });
        Assert.DoesNotContain("partial", Assert.Throws<ModelManifestException>(() => absent.LoadDefaultModel()).Message);
    }
}
