using System.Diagnostics.Metrics;

namespace RegionChat.Server.Internal;

/// <summary>The server's OpenTelemetry instruments (exported at /metrics in Prometheus format).</summary>
internal sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "RegionChat.Server";
    readonly Meter meter = new(MeterName);

    public Counter<long> Requests { get; }
    public Counter<long> PromptTokens { get; }
    public Counter<long> CachedTokens { get; }
    public Counter<long> CompletionTokens { get; }
    public Counter<long> VisualCacheHits { get; }
    public Counter<long> VisualCacheMisses { get; }
    public Histogram<double> TimeToFirstToken { get; }
    public Histogram<double> DecodeTokensPerSecond { get; }
    public UpDownCounter<long> ActiveRequests { get; }

    public ServerMetrics()
    {
        Requests = meter.CreateCounter<long>("regionchat.requests", description: "Requests finished, by method and gRPC status.");
        PromptTokens = meter.CreateCounter<long>("regionchat.tokens.prompt", description: "Prompt tokens (cached + new).");
        CachedTokens = meter.CreateCounter<long>("regionchat.tokens.cached", description: "Prompt tokens reused from a session's KV cache.");
        CompletionTokens = meter.CreateCounter<long>("regionchat.tokens.completion", description: "Generated tokens.");
        VisualCacheHits = meter.CreateCounter<long>("regionchat.visual_cache.hits", description: "Visual-token cache hits (vision encoder skipped).");
        VisualCacheMisses = meter.CreateCounter<long>("regionchat.visual_cache.misses", description: "Visual-token cache misses.");
        TimeToFirstToken = meter.CreateHistogram<double>("regionchat.time_to_first_token", unit: "ms", description: "Request arrival to first text piece.");
        DecodeTokensPerSecond = meter.CreateHistogram<double>("regionchat.decode_tokens_per_second", description: "Decode speed per request.");
        ActiveRequests = meter.CreateUpDownCounter<long>("regionchat.requests.active", description: "Requests admitted and not yet finished (queue depth).");
    }

    public void Dispose() => meter.Dispose();
}
