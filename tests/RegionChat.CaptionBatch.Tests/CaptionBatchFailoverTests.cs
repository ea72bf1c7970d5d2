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

    [Fact]
    public async Task WithEveryServerDownTheJobWaitsForOneToComeBackAndGoesOn()
    {
        int port = FleetBinaries.FreePort();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = CaptionBatchJob.RunAsync(new CaptionBatchOptions
        {
            InputPath = data.InputPath,
            OutputPath = temp.File("out.jsonl"),
            Servers = [$"http://127.0.0.1:{port}"],
            Concurrency = 2,
            MaxTokens = 4,
            Retries = 1,
            Backoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(400),
            ServerWait = TimeSpan.FromMinutes(5),
        }, log: m =>
        {
            log.WriteLine(m);
            if (m.Contains("waiting up to 300 s for one to come back", StringComparison.Ordinal)) waiting.TrySetResult();
        });

        // The server (re)starts only once the job found every server down: before, the job stopped there.
        await waiting.Task.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.False(job.IsCompleted);
        await using var server = await ServerHost.StartAsync(("GrpcUrl", $"http://127.0.0.1:{port}"), ("Threads", "1"));
        var summary = await job.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal(data.GoodIds.Count, summary.Progress.Captioned);
        Assert.Equal(data.GoodIds.Order(), BatchDataset.ReadRecords(temp.File("out.jsonl")).Select(r => (string)r["id"]!).Order());
    }
}
