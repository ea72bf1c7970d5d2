using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>--task classify (issue 18): every item's region classified over the labels file, in-process and over
/// ClassifyStream, with the caption jobs' resume and error records; bad labels stop the job.</summary>
public sealed class CaptionBatchClassifyTests : IDisposable
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");
    static readonly string[] Captions =
        (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
         select ShapesText.RegionCaption(size, color, shape)).ToArray();

    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    CaptionBatchOptions Options(BatchDataset data, string name, string[]? labels = null) => new()
    {
        InputPath = data.InputPath,
        OutputPath = temp.File(name + ".jsonl"),
        ErrorsPath = temp.File(name + "-errors.jsonl"),
        TaskKind = CaptionBatchTask.Classify,
        Labels = labels ?? Captions,
        Top = 3,
        Concurrency = 4,
        Threads = 1,
        ContextSize = 2048,
    };

    /// <summary>The records by id: the labels, best first, and checks of their shape.</summary>
    static Dictionary<string, string[]> CheckRecords(BatchDataset data, CaptionBatchOptions options)
    {
        var records = BatchDataset.ReadRecords(options.OutputPath);
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        var byId = new Dictionary<string, string[]>();
        foreach (var r in records)
        {
            Assert.Equal("shapes-tiny", (string?)r["model"]);
            Assert.Null(r["caption"]);
            var labels = r["labels"]!.AsArray().Select(l => l!.AsObject()).ToArray();
            Assert.Equal(3, labels.Length);
            var p = labels.Select(l => (double)l["p"]!).ToArray();
            Assert.True(p.Zip(p.Skip(1)).All(x => x.First >= x.Second), $"not best first: {r.ToJsonString()}");
            Assert.All(p, x => Assert.InRange(x, 0, 1));
            byId[(string)r["id"]!] = labels.Select(l => (string)l["label"]!).ToArray();
        }
        var errors = BatchDataset.ReadRecords(options.ErrorsPath!);
        Assert.Equal(BatchDataset.BadItems.Keys.Order(), errors.Select(r => (string)r["id"]!).Order());
        foreach (var r in errors) Assert.Contains(BatchDataset.BadItems[(string)r["id"]!], (string)r["error"]!);
        // The dataset's "mask" item is object 0 of its first scene: classified as its own caption.
        Assert.Equal(ShapesGenerator.Generate(1_000_000_321).Objects[0].Caption, byId["mask"][0]);
        return byId;
    }

    [Fact]
    public async Task InProcessAndOnAServerEveryItemGetsItsTopLabelsOnceAndARerunFindsThemDone()
    {
        var data = BatchDataset.Write(temp.File("data"));
        var local = Options(data, "local") with { ModelDir = ShapesTiny };
        var summary = await CaptionBatchJob.RunAsync(local);
        var localLabels = CheckRecords(data, local);
        Assert.Equal((data.GoodIds.Count, BatchDataset.BadItems.Count), (summary.Progress.Captioned, summary.Progress.Failed));
        Assert.Equal(["shapes-tiny"], summary.Models);

        await using var server = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var remote = Options(data, "remote") with { Servers = [server.Address.ToString()] };
        var served = await CaptionBatchJob.RunAsync(remote);
        Assert.Equal(localLabels, CheckRecords(data, remote));
        Assert.Equal(data.GoodIds.Count, Assert.Single(served.Servers).Captioned);
        // The items went over ClassifyStream, one counted call per item.
        Assert.Equal(data.GoodIds.Count, PrometheusText(await server.MetricsAsync(), "ClassifyStream.item", "OK"));

        byte[] before = File.ReadAllBytes(remote.OutputPath);
        var again = await CaptionBatchJob.RunAsync(remote);
        Assert.Equal((0, 0, data.AllIds.Count), (again.Progress.Captioned, again.Progress.Failed, again.Progress.Skipped));
        Assert.Equal(before, File.ReadAllBytes(remote.OutputPath));
    }

    [Fact]
    public async Task LabelsTheModelCannotReadStopTheJobNamingTheLabel()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        await using var server = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        string[] labels = ["a large red circle", "a pink elephant"];
        foreach (var options in new[] { Options(data, "local", labels) with { ModelDir = ShapesTiny },
                     Options(data, "remote", labels) with { Servers = [server.Address.ToString()] } })
        {
            var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(options));
            Assert.StartsWith("--labels-file: label 2: ", e.Message);
            Assert.True(e.Refused);
            Assert.Empty(BatchDataset.ReadRecords(options.ErrorsPath!));
        }
    }

    static double PrometheusText(string text, string method, string status)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("regionchat_requests_total{", StringComparison.Ordinal)
            && l.Contains($"method=\"{method}\"", StringComparison.Ordinal) && l.Contains($"status=\"{status}\"", StringComparison.Ordinal));
        return line == null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
