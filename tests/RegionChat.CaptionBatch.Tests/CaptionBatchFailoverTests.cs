using RegionChat.Server.TestHost;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>Two servers share a job; one is stopped mid-job and the other finishes its items.</summary>
public sealed class CaptionBatchFailoverTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task AServerStoppedMidJobHandsItsItemsToTheOther()
    {
        var settings = new Dictionary<string, string?> { ["RegionChat:Threads"] = "1", ["RegionChat:ContextSize"] = "4096" };
        await using var a = await ServerHost.StartAsync(settings);
        var b = await ServerHost.StartAsync(settings);
        var data = BatchDataset.Write(temp.File("data"), repeat: 12, withBadItems: false); // 120 items
        Task? stopping = null;
        int stopAt = 15;

        CaptionBatchSummary summary;
        try
        {
            summary = await CaptionBatchJob.RunAsync(new CaptionBatchOptions
            {
                InputPath = data.InputPath,
                OutputPath = temp.File("out.jsonl"),
                Servers = [a.Address.ToString(), b.Address.ToString()],
                Concurrency = 4,
                MaxTokens = 8,
                Retries = 3,
                Backoff = TimeSpan.FromMilliseconds(50),
                MaxBackoff = TimeSpan.FromMilliseconds(400),
            }, progress: p =>
            {
                if (p.Done >= stopAt && stopping == null)
                    lock (this) stopping ??= Task.Run(async () => await b.DisposeAsync());
            }, log: log.WriteLine);
        }
        finally
        {
            if (stopping == null) await b.DisposeAsync();
        }
        Assert.NotNull(stopping);
        await stopping!;

        var records = BatchDataset.ReadRecords(temp.File("out.jsonl"));
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        Assert.All(records, r => Assert.Null(r["error"]));
        Assert.Equal(data.GoodIds.Count, summary.Progress.Captioned);
        Assert.Equal(0, summary.Progress.Failed);
        var sa = summary.Servers.Single(s => s.Address == a.Address.ToString());
        var sb = summary.Servers.Single(s => s.Address == b.Address.ToString());
        log.WriteLine($"A: {sa}");
        log.WriteLine($"B: {sb}");
        Assert.True(sb.Captioned > 0, "the second server took no item before it stopped");
        Assert.True(sb.Failures > 0, "the stop went unnoticed");
        Assert.True(sa.Captioned > sb.Captioned, "the surviving server should have done most of the items");
        Assert.Equal(data.GoodIds.Count, sa.Captioned + sb.Captioned);
        Assert.False(sa.Down);
    }
}
