using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>--logprobs: each caption record gets its log-probability and token count, the same in-process and over
/// CaptionStream; without it the records have neither.</summary>
public sealed class CaptionBatchLogprobTests : IDisposable
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    CaptionBatchOptions Options(BatchDataset data, string name) => new()
    {
        InputPath = data.InputPath,
        OutputPath = temp.File(name + ".jsonl"),
        ErrorsPath = temp.File(name + "-errors.jsonl"),
        Concurrency = 4,
        Threads = 1,
        ContextSize = 2048,
        Logprobs = true,
    };

    static Dictionary<string, (string Caption, double Logprob, int Tokens)> Records(CaptionBatchOptions options) =>
        BatchDataset.ReadRecords(options.OutputPath).ToDictionary(r => (string)r["id"]!,
            r => ((string)r["caption"]!, (double)r["logprob"]!, (int)r["tokens"]!));

    [Fact]
    public async Task EachCaptionGetsItsLogprobInProcessAndOnAServerAlike()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        var local = Options(data, "local") with { ModelDir = ShapesTiny };
        await CaptionBatchJob.RunAsync(local);
        var localRecords = Records(local);
        Assert.Equal(data.GoodIds.Order(), localRecords.Keys.Order());
        Assert.All(localRecords.Values, r =>
        {
            Assert.InRange(r.Logprob, -1000, 0);
            Assert.InRange(r.Tokens, 1, 256);
        });
        // Greedy captions of a model that is right 95 % of the time: most are near-certain.
        Assert.True(localRecords.Values.Count(r => r.Logprob > Math.Log(0.5)) * 2 > localRecords.Count,
            string.Join(", ", localRecords.Values.Select(r => $"{r.Caption}: {r.Logprob:F3}")));

        await using var server = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var remote = Options(data, "remote") with { Servers = [server.Address.ToString()] };
        var served = await CaptionBatchJob.RunAsync(remote);
        Assert.Equal(localRecords.Count, served.Progress.Captioned);
        Assert.Equal(localRecords.Keys.Order(), Records(remote).Keys.Order());
        foreach (var (id, r) in Records(remote))
        {
            var l = localRecords[id];
            Assert.Equal((l.Caption, l.Tokens), (r.Caption, r.Tokens));
            Assert.Equal(l.Logprob, r.Logprob, 1e-3);          // batches of other sizes round in the last bits
        }

        var plain = Options(data, "plain") with { ModelDir = ShapesTiny, Logprobs = false };
        await CaptionBatchJob.RunAsync(plain);
        Assert.All(BatchDataset.ReadRecords(plain.OutputPath), r => Assert.False(r.ContainsKey("logprob") || r.ContainsKey("tokens")));
    }

    [Fact]
    public void LogprobsAreForCaptionsOnly()
    {
        var options = new CaptionBatchOptions
        {
            InputPath = "in.jsonl", OutputPath = "out.jsonl", ModelDir = ShapesTiny, TaskKind = CaptionBatchTask.Classify,
            Labels = ["a red circle"], Logprobs = true,
        };
        Assert.Contains("--logprobs", Assert.Throws<ArgumentException>(options.Validate).Message);
    }
}
