namespace RegionChat.Llm.Engine.Internal;

/// <summary>Work for the scheduler's loop, handled in submission order.</summary>
internal abstract class SchedulerCommand;

/// <summary>Reset (free the history) or close a session.</summary>
internal sealed class SessionCommand(LlmSession session, bool close) : SchedulerCommand
{
    public LlmSession Session { get; } = session;
    public bool Close { get; } = close;
}

/// <summary>What one loop step decoded, for tests that count steps (e.g. how fast a cancel lands).</summary>
internal readonly record struct SchedulerStep(long Index, int TokenPositions, int EmbeddingPositions, int DecodedSequences);
