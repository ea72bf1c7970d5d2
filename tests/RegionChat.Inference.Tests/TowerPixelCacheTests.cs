using RegionChat.Inference.Internal;

namespace RegionChat.Inference.Tests;

/// <summary>The tower-pixel cache's single flight: turns about one new image wait for one decode, without holding a
/// thread, and a waiting turn can be cancelled while the decode goes on.</summary>
public class TowerPixelCacheTests
{
    static readonly TowerPixelCache.Key Key = new("m", "img");
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Starts a make that blocks on <paramref name="release"/>, on its own thread, and returns once it runs.</summary>
    static Task<(TowerPixelCache.Entry Entry, bool Made)> BlockedMaker(TowerPixelCache cache, ManualResetEventSlim release, Func<TowerPixelCache.Entry> then)
    {
        using var running = new ManualResetEventSlim();
        var task = Task.Factory.StartNew(() => cache.GetOrAddAsync(Key, () =>
        {
            running.Set();
            release.Wait(Patience);
            return then();
        }, CancellationToken.None).AsTask(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        Assert.True(running.Wait(Patience), "the first turn's make did not start");
        return task;
    }

    [Fact]
    public async Task AWaitingTurnIsCancelledWhileAnotherDecodesAndTheOthersGetThatDecode()
    {
        var cache = new TowerPixelCache(1 << 20);
        using var release = new ManualResetEventSlim();
        var entry = new TowerPixelCache.Entry(new float[12], 2, 2);
        int makes = 0;
        var maker = BlockedMaker(cache, release, () => { Interlocked.Increment(ref makes); return entry; });

        using var cts = new CancellationTokenSource();
        var cancelled = cache.GetOrAddAsync(Key, () => throw new InvalidOperationException("a waiter must not make"), cts.Token).AsTask();
        var waiting = cache.GetOrAddAsync(Key, () => throw new InvalidOperationException("a waiter must not make"), CancellationToken.None).AsTask();
        Assert.False(cancelled.IsCompleted);
        Assert.False(waiting.IsCompleted);

        await cts.CancelAsync();
        // The decode is still blocked: only a wait that observes its token can end here.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));
        Assert.False(maker.IsCompleted);
        Assert.False(waiting.IsCompleted);

        release.Set();
        Assert.Equal((entry, true), await maker.WaitAsync(Patience));
        Assert.Equal((entry, false), await waiting.WaitAsync(Patience));
        Assert.Equal(1, makes);
        Assert.Equal((entry, false), await cache.GetOrAddAsync(Key, () => throw new InvalidOperationException("kept"), CancellationToken.None));
    }

    [Fact]
    public async Task WhenTheDecodeFailsAWaitingTurnMakesItsOwn()
    {
        var cache = new TowerPixelCache(1 << 20);
        using var release = new ManualResetEventSlim();
        var maker = BlockedMaker(cache, release, () => throw new FormatException("the first turn's image"));
        var own = new TowerPixelCache.Entry(new float[3], 1, 1);
        var waiting = cache.GetOrAddAsync(Key, () => own, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);

        release.Set();
        await Assert.ThrowsAsync<FormatException>(() => maker.WaitAsync(Patience));
        Assert.Equal((own, true), await waiting.WaitAsync(Patience));
    }

    [Fact]
    public async Task WithNoCapacityEveryTurnMakesItsOwn()
    {
        var cache = new TowerPixelCache(0);
        int makes = 0;
        for (int i = 0; i < 2; i++)
        {
            var (_, made) = await cache.GetOrAddAsync(Key, () => { makes++; return new TowerPixelCache.Entry(new float[3], 1, 1); }, CancellationToken.None);
            Assert.True(made);
        }
        Assert.Equal(2, makes);
    }
}
