using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>--task embed: every item's region embedded in the classifier's joint space, in-process and over EmbedStream,
/// with the caption jobs' resume and error records; a model without a classifier stops the job.</summary>
public sealed class CaptionBatchEmbedTests : IDisposable
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    CaptionBatchOptions Options(BatchDataset data, string name) => new()
    {
        InputPath = data.InputPath,
        OutputPath = temp.File(name + ".jsonl"),
        ErrorsPath = temp.File(name + "-errors.jsonl"),
        TaskKind = CaptionBatchTask.Embed,
        Concurrency = 4,
        Threads = 1,
        ContextSize = 2048,
    };

    /// <summary>The vectors by id, checked: one record per good item, unit length, model and timings; the bad items' errors.</summary>
    static Dictionary<string, float[]> CheckRecords(BatchDataset data, CaptionBatchOptions options)
    {
        var records = BatchDataset.ReadRecords(options.OutputPath);
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        var byId = new Dictionary<string, float[]>();
        foreach (var r in records)
        {
            Assert.Equal("shapes-tiny", (string?)r["model"]);
            Assert.Null(r["caption"]);
            Assert.NotNull(r["timings"]!["vision_encode_ms"]);
            var vector = r["embedding"]!.AsArray().Select(v => (float)v!).ToArray();
            Assert.Equal(128, vector.Length);
            Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 4);
            byId[(string)r["id"]!] = vector;
        }
        var errors = BatchDataset.ReadRecords(options.ErrorsPath!);
        Assert.Equal(BatchDataset.BadItems.Keys.Order(), errors.Select(r => (string)r["id"]!).Order());
        foreach (var r in errors) Assert.Contains(BatchDataset.BadItems[(string)r["id"]!], (string)r["error"]!);
        return byId;
    }

    [Fact]
    public async Task InProcessAndOnAServerEveryRegionGetsTheVectorEmbedGivesOnce()
    {
        var data = BatchDataset.Write(temp.File("data"));
        var local = Options(data, "local") with { ModelDir = ShapesTiny };
        var summary = await CaptionBatchJob.RunAsync(local);
        var localVectors = CheckRecords(data, local);
        Assert.Equal((data.GoodIds.Count, BatchDataset.BadItems.Count), (summary.Progress.Captioned, summary.Progress.Failed));

        await using var server = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var remote = Options(data, "remote") with { Servers = [server.Address.ToString()] };
        var served = await CaptionBatchJob.RunAsync(remote);
        var remoteVectors = CheckRecords(data, remote);
        Assert.Equal(data.GoodIds.Count, Assert.Single(served.Servers).Captioned);
        foreach (var (id, vector) in localVectors)
            Assert.All(vector.Zip(remoteVectors[id]), p => Assert.Equal(p.First, p.Second, 1e-4f));

        // The "mask" item is object 0 of the dataset's first scene: nearer its own caption than any other object's.
        using var client = new RegionChatClient(server.Address);
        var scene = ShapesGenerator.Generate(1_000_000_321);
        var (_, texts) = await client.EmbedAsync(null, texts: scene.Objects.Select(o => o.Caption).Distinct().ToArray());
        var cosines = texts.Select(t => t.Zip(remoteVectors["mask"]).Sum(p => p.First * p.Second)).ToArray();
        Assert.Equal(0, Array.IndexOf(cosines, cosines.Max()));

        byte[] before = File.ReadAllBytes(remote.OutputPath);
        var again = await CaptionBatchJob.RunAsync(remote);
        Assert.Equal((0, 0, data.AllIds.Count), (again.Progress.Captioned, again.Progress.Failed, again.Progress.Skipped));
        Assert.Equal(before, File.ReadAllBytes(remote.OutputPath));
    }

    [Fact]
    public async Task AModelWithoutAClassifierStopsTheJobWithoutErrorRecords()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        await using var server = await ServerHost.StartAsync();   // the tiny random model: no classifier
        var options = Options(data, "remote") with { Servers = [server.Address.ToString()] };
        var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(options));
        Assert.StartsWith("embedding cannot run: ", e.Message);
        Assert.True(e.Refused);
        Assert.Empty(BatchDataset.ReadRecords(options.ErrorsPath!));
    }
}
