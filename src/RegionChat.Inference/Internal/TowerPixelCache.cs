using System.Collections.Concurrent;

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
    readonly ConcurrentDictionary<Key, Lock> making = new();

    /// <summary>The kept entry, else <paramref name="make"/>'s, kept (<paramref name="made"/> says which). Turns that ask
    /// for the same new image at once (a batch's items about one image arrive together) wait for one decode rather than
    /// each decoding it; an exception from <paramref name="make"/> reaches its caller, and a waiting turn then makes its own.</summary>
    public Entry GetOrAdd(Key key, Func<Entry> make, out bool made)
    {
        made = false;
        if (cache.TryGet(key, out var entry)) return entry;
        made = true;
        if (capacityBytes == 0) return make();
        var gate = making.GetOrAdd(key, _ => new Lock());
        lock (gate)
        {
            try
            {
                if (cache.TryGet(key, out entry))
                {
                    made = false;
                    return entry;
                }
                entry = make();
                cache.Set(key, entry);
                return entry;
            }
            finally { making.TryRemove(new KeyValuePair<Key, Lock>(key, gate)); }
        }
    }

    public int Count => cache.Count;
}
