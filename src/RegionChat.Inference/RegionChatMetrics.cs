using System.Diagnostics.Metrics;

namespace RegionChat.Inference;

/// <summary>The core's instruments on the meter <see cref="MeterName"/> (a host exports them, e.g. as Prometheus
/// at /metrics). The turn records tokens, cache use and speeds; the transport records requests by method and status.</summary>
public sealed class RegionChatMetrics : IDisposable
{
    /// <summary>The meter's name (kept from when the instruments lived in the server, so dashboards keep working).</summary>
    public const string MeterName = "RegionChat.Server";

    // Durations in ms, 5 ms to 5 min (the time-to-first-token and classification histograms).
    static readonly InstrumentAdvice<double> MillisecondBuckets = new()
    {
        HistogramBucketBoundaries = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000],
    };
    readonly Meter meter = new(MeterName);

    readonly Counter<long> requests;
    readonly UpDownCounter<long> activeRequests;
    internal Counter<long> PromptTokens { get; }
    internal Counter<long> CachedTokens { get; }
    internal Counter<long> CompletionTokens { get; }
    internal Counter<long> VisualCacheHits { get; }
    internal Counter<long> VisualCacheMisses { get; }
    internal Counter<long> SessionsRestored { get; }
    internal Counter<long> RestoredTokens { get; }
    internal Histogram<double> TimeToFirstToken { get; }
    internal Histogram<double> DecodeTokensPerSecond { get; }
    readonly Counter<long> classifications, classifiedRegions, classifiedLabels, labelCacheHits;
    readonly Histogram<double> classifyDuration;

    public RegionChatMetrics()
    {
        requests = meter.CreateCounter<long>("regionchat.requests", description: "Requests finished, by method and gRPC status.");
        PromptTokens = meter.CreateCounter<long>("regionchat.tokens.prompt", description: "Prompt tokens (cached + new).");
        CachedTokens = meter.CreateCounter<long>("regionchat.tokens.cached", description: "Prompt tokens reused from a session's KV cache.");
        CompletionTokens = meter.CreateCounter<long>("regionchat.tokens.completion", description: "Generated tokens.");
        VisualCacheHits = meter.CreateCounter<long>("regionchat.visual_cache.hits", description: "Visual-token cache hits (vision encoder skipped).");
        VisualCacheMisses = meter.CreateCounter<long>("regionchat.visual_cache.misses", description: "Visual-token cache misses.");
        SessionsRestored = meter.CreateCounter<long>("regionchat.sessions.restored",
            description: "Sessions rebuilt by replaying their record, by why their sequence was not here (evicted, not_live, stale).");
        RestoredTokens = meter.CreateCounter<long>("regionchat.tokens.restored", description: "Prompt positions prefilled to replay sessions.");
        // OpenTelemetry's default buckets end at 10 s: a 7B model prefilling 576 visual tokens on a CPU (and a queue
        // in front) lands most first tokens beyond that, in +Inf, where no percentile can be read.
        TimeToFirstToken = meter.CreateHistogram<double>("regionchat.time_to_first_token", unit: "ms", description: "Request arrival to first text piece.",
            advice: MillisecondBuckets);
        DecodeTokensPerSecond = meter.CreateHistogram<double>("regionchat.decode_tokens_per_second", description: "Decode speed per request.");
        classifications = meter.CreateCounter<long>("regionchat.classify.requests",
            description: "Zero-shot classifications (Classify calls and ClassifyStream items, /v1/classify, in-process), by outcome (ok, error).");
        classifiedRegions = meter.CreateCounter<long>("regionchat.classify.regions",
            description: "Regions classified (each scored against every label).");
        classifiedLabels = meter.CreateCounter<long>("regionchat.classify.labels",
            description: "Labels of the classifications (each classification's label count, summed).");
        labelCacheHits = meter.CreateCounter<long>("regionchat.classify.text_cache_hits",
            description: "Labels whose text features came from the cache.");
        classifyDuration = meter.CreateHistogram<double>("regionchat.classify.duration", unit: "ms",
            description: "One classification from its start to its ranked labels (image, vision and text forwards included).", advice: MillisecondBuckets);
        activeRequests = meter.CreateUpDownCounter<long>("regionchat.requests.active", description: "Requests admitted and not yet finished (queue depth).");
    }

    /// <summary>Counts a finished request: <paramref name="method"/> as the transport names it ("Chat",
    /// "POST /v1/chat/completions"), <paramref name="status"/> its outcome ("OK", "NotFound", "200", "cancelled").</summary>
    public void RequestFinished(string method, string status) => requests.Add(1, new("method", method), new("status", status));

    internal void Active(int delta) => activeRequests.Add(delta);

    /// <summary>Records one classification that succeeded.</summary>
    internal void Classified(int regions, int labels, int textCacheHits, double ms)
    {
        classifications.Add(1, new KeyValuePair<string, object?>("outcome", "ok"));
        classifiedRegions.Add(regions);
        classifiedLabels.Add(labels);
        labelCacheHits.Add(textCacheHits);
        classifyDuration.Record(ms);
    }

    /// <summary>Records one classification that failed (bad input, unknown model or set, cancelled).</summary>
    internal void ClassifyFailed() => classifications.Add(1, new KeyValuePair<string, object?>("outcome", "error"));

    public void Dispose() => meter.Dispose();
}
