using RegionChat.Server.TestHost;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>Items refused only for the server's sake (its queue full) get no error record when their retries run out:
/// they are set aside, and a rerun does them. An error record would have counted them as done for good.</summary>
public sealed class CaptionBatchSetAsideTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task ItemsRefusedByAFullQueueAreLeftForTheRerunNotFailed()
    {
        // A queue of one against eight items in flight: most are refused RESOURCE_EXHAUSTED, and with no retries at once.
        var settings = new Dictionary<string, string?> { ["RegionChat:Threads"] = "1", ["RegionChat:QueueSize"] = "1" };
        await using var server = await ServerHost.StartAsync(settings);
        var data = BatchDataset.Write(temp.File("data"), repeat: 2, withBadItems: false);
        string output = temp.File("out.jsonl");
        CaptionBatchOptions Options(int retries) => new()
        {
            InputPath = data.InputPath,
            OutputPath = output,
            Servers = [server.Address.ToString()],
            Concurrency = 8,
            MaxTokens = 4,
            Retries = retries,
            Backoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(100),
        };
        var logged = new List<string>();
        var first = await CaptionBatchJob.RunAsync(Options(retries: 0), log: line => { lock (logged) logged.Add(line); log.WriteLine(line); });

        var records = BatchDataset.ReadRecords(output);
        Assert.All(records, r => Assert.Null(r["error"]));
        Assert.Equal(0, first.Progress.Failed);
        Assert.True(first.Progress.SetAside > 0, "no item was refused by the full queue");
        Assert.Equal(data.GoodIds.Count, first.Progress.Captioned + first.Progress.SetAside);
        Assert.Equal(first.Progress.SetAside, first.Progress.Remaining);
        Assert.False(first.Complete);
        Assert.Contains(logged, l => l.Contains("is left for a rerun: RESOURCE_EXHAUSTED", StringComparison.Ordinal));

        // The rerun (patient this time) does exactly the items set aside.
        var second = await CaptionBatchJob.RunAsync(Options(retries: 50));
        log.WriteLine($"first run: {first.Progress}; second: {second.Progress}");
        Assert.Equal(first.Progress.SetAside, second.Progress.Captioned + second.Progress.SetAside);
        Assert.Equal(first.Progress.Captioned, second.Progress.Skipped);
        var all = BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.True(second.Complete, $"{second.Progress.SetAside} items were set aside again");
        Assert.Equal(data.GoodIds.Order(), all.Order());
    }

    [SkippableFact]
    public async Task AnItemWhoseMaskFileReadFailsWithAnIoErrorIsRetriedAndLeftForTheRerun()
    {
        Skip.If(EioFile.Path == null, EioFile.Missing);
        await using var server = await ServerHost.StartAsync();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        // One more item whose mask is a file that fails with EIO, as a disk or an NFS server hiccups.
        var line = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = "mask-eio", ["image"] = "images/scene1.png", ["region"] = new System.Text.Json.Nodes.JsonObject { ["mask"] = EioFile.Path },
        };
        File.AppendAllText(data.InputPath, line.ToJsonString() + "\n");
        string output = temp.File("out.jsonl");
        var logged = new List<string>();
        var summary = await CaptionBatchJob.RunAsync(new CaptionBatchOptions
        {
            InputPath = data.InputPath,
            OutputPath = output,
            Servers = [server.Address.ToString()],
            MaxTokens = 4,
            Retries = 1,
            Backoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(100),
        }, log: line => { lock (logged) logged.Add(line); log.WriteLine(line); });

        var records = BatchDataset.ReadRecords(output);
        Assert.DoesNotContain(records, r => (string)r["id"]! == "mask-eio"); // no error record: a rerun tries it again
        Assert.Equal(data.GoodIds.Count, summary.Progress.Captioned);
        Assert.Equal(1, summary.Progress.SetAside);
        Assert.Equal(0, summary.Progress.Failed);
        Assert.Contains(logged, l => l.Contains("mask-eio", StringComparison.Ordinal) && l.Contains("is left for a rerun", StringComparison.Ordinal));
    }
}
