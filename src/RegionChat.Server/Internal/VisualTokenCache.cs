using Microsoft.Extensions.Options;
using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>Visual tokens by (model, image id, region), LRU-bounded in bytes: asking again about the same region skips
/// image decoding and the vision encoder.</summary>
internal sealed class VisualTokenCache(IOptions<ServerOptions> options)
{
    public readonly record struct Key(string Model, string ImageId, string Region);

    readonly ByteBoundedLru<Key, VisualTokens> cache = new(options.Value.VisualCacheBytes, t => t.SizeBytes + 128);

    public bool TryGet(Key key, out VisualTokens tokens) => cache.TryGet(key, out tokens);
    public void Set(Key key, VisualTokens tokens) => cache.Set(key, tokens);
    public int Count => cache.Count;
}

/// <summary>Fires when the server starts shutting down, so streams end with a final event instead of being cut.</summary>
internal sealed class ShutdownSignal
{
    readonly CancellationTokenSource cts = new();
    public CancellationToken Token => cts.Token;
    public bool IsShuttingDown => cts.IsCancellationRequested;
    public void Trigger() => cts.Cancel();
}
