using RegionChat.Server.TestHost;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>A server that stops answering without closing its connection no longer holds the job forever: its lane's
/// items in flight go back to the queue and a working server captions them.</summary>
public sealed class CaptionBatchStallTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    CaptionBatchOptions Options(BatchDataset data, params Uri[] servers) => new()
    {
        InputPath = data.InputPath,
        OutputPath = temp.File("out.jsonl"),
        Servers = servers.Select(s => s.ToString()).ToArray(),
        Concurrency = 4,
        MaxTokens = 4,
        Retries = 5,
        Backoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
    };

    /// <summary>Every item captioned by the working server; the silent one answered none and handed its items back.</summary>
    CaptionBatchServerSummary CheckFailedOver(BatchDataset data, CaptionBatchSummary summary, Uri silent, Uri working)
    {
        var records = BatchDataset.ReadRecords(temp.File("out.jsonl"));
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        Assert.All(records, r => Assert.Null(r["error"]));
        Assert.True(summary.Complete);
        var s = summary.Servers.Single(x => x.Address == silent.ToString());
        var w = summary.Servers.Single(x => x.Address == working.ToString());
        log.WriteLine($"silent: {s}");
        log.WriteLine($"working: {w}");
        Assert.Equal((0, data.GoodIds.Count), (s.Captioned, w.Captioned));
        Assert.True(s.Failures > 0 && s.Requeued > 0, $"the silent server's items were not handed back: {s}");
        return s;
    }

    [Fact]
    public async Task AServerThatTakesItemsButNeverAnswersLosesThemToAnotherAfterTheItemTimeout()
    {
        await using var silent = await SilentServer.StartAsync();
        await using var working = await ServerHost.StartAsync();
        var data = BatchDataset.Write(temp.File("data"), repeat: 3, withBadItems: false);

        // Long enough that the working server, on a busy machine, is never taken for a silent one.
        var summary = await CaptionBatchJob.RunAsync(Options(data, silent.Address, working.Address) with { ItemTimeout = TimeSpan.FromSeconds(5) },
            log: log.WriteLine);

        Assert.True(silent.Items > 0, "the silent server got no item: the test shows nothing");
        var s = CheckFailedOver(data, summary, silent.Address, working.Address);
        Assert.Contains("no answer for 5 s (--item-timeout)", s.LastError);
    }

    [Fact]
    public async Task WhileNoItemFinishesProgressIsStillReportedWithTheItemsInFlightAndWaiting()
    {
        await using var silent = await SilentServer.StartAsync();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        using var stop = new CancellationTokenSource();
        var stalled = new List<CaptionBatchProgress>();
        var options = Options(data, silent.Address) with { ItemTimeout = TimeSpan.Zero, ProgressInterval = TimeSpan.FromMilliseconds(100) };

        // Stopped (as Ctrl-C would) after three reports with the server holding a full window and nothing finished.
        var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(options, progress: p =>
        {
            if (p.InFlight < options.Concurrency || silent.Items < options.Concurrency) return;
            lock (stalled)
            {
                stalled.Add(p);
                if (stalled.Count == 3) stop.Cancel();
            }
        }, ct: stop.Token));

        Assert.StartsWith("cancelled", e.Message);
        Assert.All(stalled, p => Assert.Equal((0, options.Concurrency, data.GoodIds.Count - options.Concurrency), (p.Done, p.InFlight, p.Waiting)));
        Assert.True(stalled[^1].SinceLastFinished > stalled[0].SinceLastFinished, "the time since an item finished does not grow");
    }

    [Fact]
    public async Task AJobWhoseServerAnswersEveryItemButNeverEndsTheStreamStillEnds()
    {
        await using var server = await SilentServer.StartAsync(answerItems: true);
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);

        // No item timeout: nothing is in flight once the last item is answered.
        var summary = await CaptionBatchJob.RunAsync(Options(data, server.Address) with { ItemTimeout = TimeSpan.Zero }, log: log.WriteLine);

        var records = BatchDataset.ReadRecords(temp.File("out.jsonl"));
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        Assert.All(records, r => Assert.Equal("a caption", (string?)r["caption"]));
        Assert.True(summary.Complete);
        Assert.Equal(0, Assert.Single(summary.Servers).Failures);
    }

    [Fact]
    public async Task AServerThatFreezesIsFoundByKeepalivePingsWithoutAnItemTimeout()
    {
        await using var silent = await SilentServer.StartAsync();
        await using var frozen = new FreezingProxy(silent.Address);
        await using var working = await ServerHost.StartAsync();
        var data = BatchDataset.Write(temp.File("data"), repeat: 3, withBadItems: false);
        // No item timeout: only the unanswered pings can tell that the server froze.
        var options = Options(data, frozen.Address, working.Address) with { ItemTimeout = TimeSpan.Zero, KeepAlive = TimeSpan.FromSeconds(1) };

        var job = CaptionBatchJob.RunAsync(options, log: log.WriteLine);
        Assert.True(await Task.WhenAny(silent.FirstItem, job) != job, "the silent server got no item: the test shows nothing");
        frozen.Freeze();
        var summary = await job;

        CheckFailedOver(data, summary, frozen.Address, working.Address);
    }
}
