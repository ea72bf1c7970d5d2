using RegionChat.Inference.Internal;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Tests;

/// <summary>New images are decoded a bounded number at a time: uploads are not admitted to the queue, so the decode
/// slots are what bounds the pixel buffers many uploads at once would hold.</summary>
public class ImageStoreTests
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>A PNG of noise (it barely compresses, so decoding it takes a while), different for each seed.</summary>
    static byte[] NoisePng(int seed, int size = 900)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(size, size);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (ref var p in rows.GetRowSpan(y)) p = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        });
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    static ImageStore Store(int maxDecodes) => new(256L << 20, new ImageLimits { MaxBytes = 64L << 20, MaxPixels = 40_000_000 }, maxDecodes);

    [Fact]
    public void ManyPutsAtOnceDecodeAtMostTheSlotsAtATime()
    {
        const int Puts = 6;
        var store = Store(maxDecodes: 2);
        var pngs = Enumerable.Range(0, Puts).Select(i => NoisePng(i)).ToArray();
        using var start = new Barrier(Puts);
        var results = new (StoredImage Stored, bool Decoded)[Puts];
        // Each put on a thread of its own, all released together: without the slots all six would decode at once.
        var threads = Enumerable.Range(0, Puts).Select(i => new Thread(() =>
        {
            start.SignalAndWait(Patience);
            results[i] = store.PutAsync(pngs[i], CancellationToken.None).GetAwaiter().GetResult();
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(Patience), "a put did not finish");

        Assert.All(results, r => Assert.True(r.Decoded));
        Assert.Equal(Puts, results.Select(r => r.Stored.Id).Distinct().Count());
        Assert.All(results, r => Assert.Equal((900, 900), (r.Stored.Width, r.Stored.Height)));
        Assert.InRange(store.PeakDecoding, 1, 2);
    }

    [Fact]
    public async Task APutWaitingForASlotCanBeCancelledAndStoresNothing()
    {
        var store = Store(maxDecodes: 1);
        byte[] big = NoisePng(1, size: 2500), waiting = NoisePng(2);
        // The big decode holds the only slot while the second put waits; cancelling the wait ends that put alone.
        var first = Task.Factory.StartNew(() => store.PutAsync(big, CancellationToken.None).GetAwaiter().GetResult(),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var deadline = DateTime.UtcNow + Patience;
        while (store.PeakDecoding == 0 && DateTime.UtcNow < deadline) await Task.Delay(1);
        Assert.Equal(1, store.PeakDecoding);

        using var cts = new CancellationTokenSource();
        var second = store.PutAsync(waiting, cts.Token);
        Assert.False(second.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.False(store.TryGet(ImageStore.IdOf(waiting), out _));

        var (stored, decoded) = await first.WaitAsync(Patience);
        Assert.True(decoded);
        Assert.True(store.TryGet(stored.Id, out _));
        // The slot is free again: the cancelled image can be put now.
        Assert.True((await store.PutAsync(waiting, CancellationToken.None)).Decoded);
    }
}
