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

    public bool TryGet(Key key, out Entry entry) => cache.TryGet(key, out entry);
    public void Set(Key key, Entry entry) => cache.Set(key, entry);
    public int Count => cache.Count;
}
