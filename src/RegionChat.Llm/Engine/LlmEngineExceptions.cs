namespace RegionChat.Llm.Engine;

/// <summary>Base of the engine's own failures.</summary>
public class LlmEngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A prompt (or a generation) needs more KV positions than the context has.</summary>
public sealed class ContextOverflowException(int needed, int available, string message) : LlmEngineException(message)
{
    public int Needed { get; } = needed;
    public int Available { get; } = available;
}

/// <summary>The sequence's KV history was evicted to make room for others; its conversation cannot go on.</summary>
public sealed class SequenceEvictedException(long sessionId)
    : LlmEngineException($"session {sessionId} was evicted from the KV cache (least recently used while the cache was full); " +
                         "its history is gone, start a new session")
{
    public long SessionId { get; } = sessionId;
}

/// <summary>llama_decode failed (e.g. no KV slot or a compute error).</summary>
public sealed class LlmDecodeException(string message) : LlmEngineException(message);
