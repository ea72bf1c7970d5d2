using System.Collections.Concurrent;
using System.Diagnostics;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Internal;

/// <summary>An image's pixels as a model's vision tower takes them (decoded, resized, normalised: no region changes
/// them), per (model, image id), LRU-bounded in bytes. A turn about another region of an image seen before (a chat that
/// moves between regions, a batch of a COCO image's annotations) then skips decoding and resizing it: for a 1280×960
/// PNG that was 50–180 ms per turn, more than shapes-tiny's whole encode.</summary>
internal sealed class TowerPixelCache(long capacityBytes)
{
    public readonly record struct Key(string Model, string ImageId);

    /// <summary>The pixels and the size of the image they came from (the region is drawn at that size).</summary>
    public sealed record Entry(float[] Values, int Width, int Height);

    readonly ByteBoundedLru<Key, Entry> cache = new(capacityBytes, e => 4L * e.Values.Length + 64);
    readonly ConcurrentDictionary<Key, Task<Entry>> making = new();

    /// <summary>The tower's inputs for a region of a stored image: the region drawn over the image's kept pixels, else
    /// over pixels decoded now (or <paramref name="fresh"/>, the image store's check decode of a new image, which the caller
    /// keeps and disposes) and kept.
    /// The region is made first, so one over its budget is refused before any decode. The alpha-channel region is made
    /// from the image's own decode, so it always decodes. DecodeMs is the time spent decoding and resizing the image (0
    /// when its pixels were kept, or made by another turn). Errors are the region's and the image's own exceptions.</summary>
    public async ValueTask<(PreprocessedImage Input, double DecodeMs)> PrepareAsync(RegionChatModel model, string imageId, StoredImage stored,
        RegionSource source, ImageLimits limits, RegionBudget budget, Image<Rgb24>? fresh, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        if (source is AlphaRegionSource alpha)
        {
            using var decoded = alpha.Decode(stored, limits);
            double ms = clock.Elapsed.TotalMilliseconds;
            return (model.Preprocess(decoded.Image, decoded.Region, ct), ms);
        }
        var region = source.CreateRegion(limits, budget);
        var (kept, made) = await GetOrAddAsync(new Key(model.Id, imageId), () =>
        {
            using var decoded = fresh == null ? ImageLoader.Decode(stored.Bytes, limits) : null;
            var pixels = decoded ?? fresh!;
            return new Entry(model.TowerPixels(pixels), pixels.Width, pixels.Height);
        }, ct).ConfigureAwait(false);
        double decodeMs = made ? clock.Elapsed.TotalMilliseconds : 0;
        return (model.Preprocess(kept.Values, kept.Width, kept.Height, region, ct), decodeMs);
    }

    /// <summary>The kept entry, else <paramref name="make"/>'s, kept (Made says which). Turns that ask for the same new
    /// image at once (a batch's items about one image arrive together) wait for one decode rather than each decoding it.
    /// The first runs <paramref name="make"/> on its own thread (it owns the pixels make may use); the others wait without
    /// holding a thread and can be cancelled. An exception from <paramref name="make"/> reaches its caller, and a waiting
    /// turn then makes its own (and so gets its own error).</summary>
    internal async ValueTask<(Entry Entry, bool Made)> GetOrAddAsync(Key key, Func<Entry> make, CancellationToken ct)
    {
        while (true)
        {
            if (cache.TryGet(key, out var entry)) return (entry, false);
            if (capacityBytes == 0) return (make(), true);
            var mine = new TaskCompletionSource<Entry>(TaskCreationOptions.RunContinuationsAsynchronously);
            var flight = making.GetOrAdd(key, mine.Task);
            if (flight != mine.Task)
            {
                try { return (await flight.WaitAsync(ct).ConfigureAwait(false), false); }
                catch (Exception) when (!ct.IsCancellationRequested && flight.IsFaulted) { continue; }
            }
            try
            {
                // Made and removed between this turn's look at the cache and its claim.
                if (!cache.TryGet(key, out entry))
                {
                    entry = make();
                    cache.Set(key, entry);
                    mine.SetResult(entry);
                    return (entry, true);
                }
                mine.SetResult(entry);
                return (entry, false);
            }
            catch (Exception e)
            {
                mine.SetException(e);
                _ = mine.Task.Exception;   // observed: the waiters, if any, make their own
                throw;
            }
            finally { making.TryRemove(new KeyValuePair<Key, Task<Entry>>(key, mine.Task)); }
        }
    }
}
