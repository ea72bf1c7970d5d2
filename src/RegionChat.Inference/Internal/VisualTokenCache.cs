namespace RegionChat.Inference.Internal;

/// <summary>Visual tokens by (model, image id, region, visual-token budget), LRU-bounded in bytes: asking again about the
/// same region with the same budget skips image decoding and the vision encoder.</summary>
internal sealed class VisualTokenCache(long capacityBytes)
{
    /// <param name="Budget">The effective visual-token budget (0 = every token): another budget keeps other rows.</param>
    public readonly record struct Key(string Model, string ImageId, string Region, int Budget);

    readonly ByteBoundedLru<Key, VisualTokens> cache = new(capacityBytes, t => t.SizeBytes + 128);

    public bool TryGet(Key key, out VisualTokens tokens) => cache.TryGet(key, out tokens);
    public void Set(Key key, VisualTokens tokens) => cache.Set(key, tokens);
    public int Count => cache.Count;
}
