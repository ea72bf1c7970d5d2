namespace RegionChat.Inference;

/// <summary>What a turn yields: <see cref="TurnStarted"/> once, <see cref="TurnText"/> pieces, then <see cref="TurnFinished"/>.</summary>
public abstract record TurnEvent;

/// <summary>The prompt was admitted by the engine: the session (new or continued) and the prompt's size.
/// <paramref name="Restored"/>: the session was rebuilt first (its KV sequence was not here: another replica, a restart,
/// an eviction) by prefilling its recorded turns, <paramref name="RestoredTokens"/> positions of the prompt.</summary>
public sealed record TurnStarted(string SessionId, string Model, int PromptTokens, int CachedTokens, int VisualTokens, string RequestId,
    bool Restored = false, int RestoredTokens = 0) : TurnEvent;

/// <summary>A piece of the answer.</summary>
public sealed record TurnText(string Text) : TurnEvent
{
    /// <summary>With <see cref="SamplingOptions.Logprobs"/>: the tokens whose last character this piece shows, in order.
    /// The token a stop string cuts into comes with the text before the stop, so a piece may carry tokens and no text.</summary>
    public IReadOnlyList<TokenLogprob> Logprobs { get; init; } = [];
}

/// <summary>The answer is complete (or was cut: <see cref="TurnFinishReason.Cancelled"/>, e.g. by a shutdown).</summary>
public sealed record TurnFinished(TurnFinishReason Reason, TurnUsage Usage, TurnTimings Timings) : TurnEvent;

public enum TurnFinishReason { Stop, Length, Cancelled }

/// <summary>Tokens of a turn: prompt (cached + new, visual included), those reused from the session's KV cache, generated.</summary>
public sealed record TurnUsage(int PromptTokens, int CachedTokens, int CompletionTokens, int VisualTokens);

/// <summary>Where a turn's time went, in milliseconds; <see cref="VisualCacheHit"/> when every image's visual tokens
/// came from the cache.</summary>
public sealed record TurnTimings
{
    public double QueueMs { get; init; }
    public double ImageDecodeMs { get; init; }
    public double VisionEncodeMs { get; init; }
    public double PrefillMs { get; init; }
    public double DecodeMs { get; init; }
    public double TimeToFirstTokenMs { get; init; }
    public double DecodeTokensPerSecond { get; init; }
    public bool VisualCacheHit { get; init; }
}
