namespace RegionChat.Llm.Engine.Internal;

/// <summary>The scheduler's bookkeeping for one session; every field is guarded by the scheduler's Gate.</summary>
internal sealed class SessionCore
{
    public LlmSessionState State = LlmSessionState.Fresh;
    /// <summary>A generation is queued or running.</summary>
    public bool InFlight;
    public bool CloseRequested;
    /// <summary>Generations submitted so far (a second one makes a one-shot session a conversation).</summary>
    public int Requests;
    /// <summary>llama.cpp sequence id while the session holds KV cells, else -1.</summary>
    public int SeqId = -1;
    /// <summary>Positions 0..KvLength-1 of SeqId are in the KV cache.</summary>
    public int KvLength;
    /// <summary>Leading positions whose cells belong to the scheduler's shared prompt prefix (not this session's own).</summary>
    public int SharedPositions;
    /// <summary>The last sampled token of the previous answer when it was not decoded (Length / stop-string finish);
    /// the next request prefills it first.</summary>
    public int? PendingToken;
    /// <summary>Logical clock of the last finished generation, for LRU eviction.</summary>
    public long LastUsed;
    /// <summary>Bumped whenever the history is dropped (reset, eviction, failure), so a request made against an older
    /// history is refused instead of being answered without it.</summary>
    public int Epoch;
}
