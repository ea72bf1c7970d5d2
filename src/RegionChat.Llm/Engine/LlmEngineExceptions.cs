namespace RegionChat.Llm.Engine;

/// <summary>Base of the engine's own failures.</summary>
public class LlmEngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A prompt (or a generation) needs more KV positions than the context has.</summary>
public sealed class ContextOverflowException(int needed, int available, string message,
    ContextOverflowKind kind = ContextOverflowKind.Prompt, int cachedTokens = 0) : LlmEngineException(message)
{
    public int Needed { get; } = needed;
    public int Available { get; } = available;
    public ContextOverflowKind Kind { get; } = kind;
    /// <summary>Positions the sequence already held (its earlier turns, and the last answer's undecoded token).</summary>
    public int CachedTokens { get; } = cachedTokens;
}

/// <summary>Which room ran out.</summary>
public enum ContextOverflowKind
{
    /// <summary>The sequence's history plus the new prompt exceed the positions a sequence may hold.</summary>
    Prompt,
    /// <summary>The prompt fits, but not the requested <see cref="SamplingParams.MaxTokens"/> after it.</summary>
    MaxTokens,
    /// <summary>The shared KV cells have no room for the request even after evicting idle sequences.</summary>
    FreeCells,
    /// <summary>A generation reached the last KV cell.</summary>
    Generation,
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
