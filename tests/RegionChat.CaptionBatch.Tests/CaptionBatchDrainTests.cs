using RegionChat.Server.TestHost;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>A server that starts shutting down (its drain) answers the next item UNAVAILABLE: the job sends it nothing
/// more, and the items already in flight there finish there instead of being abandoned and redone elsewhere.</summary>
public sealed class CaptionBatchDrainTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task TheItemsInFlightOnADrainingServerFinishThere()
    {
        await using var server = await ServerHost.StartAsync();
        var data = BatchDataset.Write(temp.File("data"), repeat: 10, withBadItems: false); // 100 items
        int atDrain = -1;
        Task<int>? drain = null;
        void OnProgress(CaptionBatchProgress p)
        {
            if (p.Captioned < 5 || drain != null) return;
            atDrain = p.Captioned;
            drain = server.Core.DrainAsync(TimeSpan.FromSeconds(60));
        }

        CaptionBatchSummary summary;
        try
        {
            summary = await CaptionBatchJob.RunAsync(new CaptionBatchOptions
            {
                InputPath = data.InputPath,
                OutputPath = temp.File("out.jsonl"),
                Servers = [server.Address.ToString()],
                Concurrency = 4,
                MaxTokens = 300,
                Retries = 0,
                ServerWait = TimeSpan.Zero,
                Backoff = TimeSpan.FromMilliseconds(20),
                MaxBackoff = TimeSpan.FromMilliseconds(100),
            }, OnProgress, line => log.WriteLine(line));
        }
        catch (CaptionBatchAbortedException e)
        {
            summary = e.Summary; // once drained, the server refuses the job's reconnects: no server is left
        }
        Assert.NotNull(drain);
        Assert.Equal(0, await drain.WaitAsync(TimeSpan.FromSeconds(60))); // nothing was cut
        int finishedThere = summary.Progress.Captioned - atDrain;
        log.WriteLine($"captioned {atDrain} before the drain, {finishedThere} after");
        // Three or four in flight when it began (before, at most the one whose answer freed the window for the refused item).
        Assert.True(finishedThere >= 2, $"only {finishedThere} items finished on the draining server");
        Assert.Equal(0, summary.Progress.Failed);
    }
}
