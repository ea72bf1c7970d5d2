namespace RegionChat.Llm.Engine;

/// <summary>What a generation stream yields: one <see cref="PromptAdmitted"/> (unless cancelled or failed while still
/// queued), text pieces, then exactly one <see cref="GenerationFinished"/>.</summary>
public abstract record GenerationEvent;

/// <summary>The request left the queue and its prompt is about to be prefilled.</summary>
/// <param name="PromptTokens">Cached + new prompt positions.</param>
/// <param name="CachedTokens">Positions reused from the sequence's KV cache.</param>
/// <param name="NewPromptTokens">Positions to prefill now.</param>
/// <param name="QueueMs">Time spent waiting for KV room and a sequence.</param>
public sealed record PromptAdmitted(int PromptTokens, int CachedTokens, int NewPromptTokens, double QueueMs) : GenerationEvent;

/// <summary>Output text; never splits a UTF-8 character and never holds (part of) a stop string.</summary>
public sealed record TextPiece(string Text) : GenerationEvent
{
    /// <summary>With <see cref="SamplingParams.Logprobs"/>: the tokens whose text this piece completes, in order. A token
    /// goes out with the piece that shows its last character; the one a stop string cuts into goes with the text before
    /// the stop (a piece may then have empty text).</summary>
    public IReadOnlyList<TokenLogprob> Logprobs { get; init; } = [];
}

/// <summary>The last event of a stream.</summary>
/// <param name="MatchedStop">The stop string that ended the answer, if one did.</param>
public sealed record GenerationFinished(FinishReason Reason, GenerationUsage Usage, GenerationTimings Timings, string? MatchedStop = null)
    : GenerationEvent
{
    /// <summary>All generated text including a matched stop string and what followed it: what the KV cache holds.</summary>
    internal string RawText { get; init; } = "";
    /// <summary>The sampled token ids (a final end-of-generation token excluded).</summary>
    public IReadOnlyList<int> OutputTokens { get; init; } = [];
}

public enum FinishReason
{
    /// <summary>End-of-generation token or a stop string.</summary>
    Stop,
    /// <summary>MaxTokens reached.</summary>
    Length,
    /// <summary>The caller cancelled; the sequence's KV history was freed.</summary>
    Cancelled,
}

/// <param name="PromptTokens">Prompt positions this request stands on: <paramref name="CachedTokens"/> + <paramref name="NewPromptTokens"/>.</param>
/// <param name="CachedTokens">Positions reused from the sequence's KV cache (earlier turns).</param>
/// <param name="NewPromptTokens">Positions this request had to prefill (its rendered segments, plus the previous answer's last
/// token when that one had not been decoded yet).</param>
/// <param name="PrefilledTokens">Of those, how many were prefilled: less than NewPromptTokens when cancelled, or when the
/// prompt's opening positions came from the engine's shared prompt prefix instead.</param>
/// <param name="CompletionTokens">Tokens sampled, not counting a final end-of-generation token.</param>
/// <param name="SequenceTokens">Positions the sequence holds in the KV cache afterwards (0 when it was freed). The last
/// sampled token is only decoded by a follow-up, so after a Length or stop-string finish this is one less than
/// prompt + completion.</param>
public sealed record GenerationUsage(
    int PromptTokens, int CachedTokens, int NewPromptTokens, int PrefilledTokens, int CompletionTokens, int SequenceTokens);

/// <param name="QueueMs">From submission until the request got its KV room and sequence.</param>
/// <param name="PrefillMs">Wall time of the decode steps that carried this request's prompt (shared with other sequences).</param>
/// <param name="DecodeMs">Wall time of the steps that decoded this request's generated tokens (shared with other sequences).</param>
public sealed record GenerationTimings(double QueueMs, double PrefillMs, double DecodeMs, int PrefillSteps, int DecodeSteps)
{
    public double PrefillTokensPerSecond(GenerationUsage usage) => PrefillMs > 0 ? usage.PrefilledTokens * 1000.0 / PrefillMs : 0;
    public double DecodeTokensPerSecond => DecodeMs > 0 ? DecodeSteps * 1000.0 / DecodeMs : 0;
}
