using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>A whole chat turn: the answer text with the stream's first event (session, prompt accounting) and last event
/// (finish reason, usage, timings).</summary>
public sealed record ChatAnswer(string Text, PbV1.ChatStarted Started, PbV1.ChatFinished Finished)
{
    /// <summary>Every generated token's log-probability, in order, when <see cref="GenerationOptions.Logprobs"/> asked
    /// for them (else empty).</summary>
    public IReadOnlyList<PbV1.TokenLogprob> Logprobs { get; init; } = [];

    /// <summary>The session to pass as <see cref="ChatTurn.SessionId"/> to continue the conversation.</summary>
    public string SessionId => Started.SessionId;
}
