using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Engine;

public enum LlmSessionState
{
    /// <summary>No KV history: the next prompt starts a new sequence.</summary>
    Fresh,
    /// <summary>Holds a KV history that the next prompt continues.</summary>
    Holding,
    /// <summary>Its history was evicted (LRU, cache full): the next use throws <see cref="SequenceEvictedException"/>.</summary>
    Evicted,
    /// <summary>Disposed.</summary>
    Closed,
}

/// <summary>
/// One sequence of the shared context: a KV history that successive generations extend. Create with
/// <see cref="LlmEngine.CreateSession"/>. At most one generation runs on a session at a time.
/// </summary>
public sealed class LlmSession : IDisposable
{
    readonly GenerationScheduler scheduler;

    internal LlmSession(GenerationScheduler scheduler, long id, bool keepHistory, bool oneShot)
    {
        this.scheduler = scheduler;
        Id = id;
        KeepHistory = keepHistory;
        OneShot = oneShot || !keepHistory;
    }

    public long Id { get; }

    internal GenerationScheduler Scheduler => scheduler;

    /// <summary>Keep the KV history after a generation so follow-ups prefill only their new tokens; otherwise it is freed.</summary>
    public bool KeepHistory { get; }

    /// <summary>A one-shot request's sequence (or one without history): it never evicts a conversation while anything
    /// else runs, but takes a free sequence, the engine's reserved share (<see cref="LlmEngineOptions.OneShotSequences"/>)
    /// or waits. A session with history that gets a second request is a conversation from then on.</summary>
    public bool OneShot { get; internal set; }

    public LlmSessionState State { get { lock (scheduler.Gate) return Core.State; } }

    /// <summary>Positions this session holds in the KV cache.</summary>
    public int CachedTokens { get { lock (scheduler.Gate) return Core.KvLength; } }

    /// <summary>Whether a generation is queued or running on it.</summary>
    public bool IsBusy { get { lock (scheduler.Gate) return Core.InFlight; } }

    /// <summary>Forgets the history (frees its KV) so the session starts over; also acknowledges an eviction.
    /// A generation in flight is cancelled. Takes effect in order with the requests already submitted.</summary>
    public void Reset() => scheduler.Enqueue(new SessionCommand(this, close: false));

    /// <summary>Frees the KV history for good.</summary>
    public void Dispose() => scheduler.Enqueue(new SessionCommand(this, close: true));

    /// <summary>State and history version read together.</summary>
    internal (LlmSessionState State, int Epoch) Snapshot()
    {
        lock (scheduler.Gate) return (Core.State, Core.Epoch);
    }

    /// <summary>Scheduler-owned state, guarded by <see cref="GenerationScheduler.Gate"/>.</summary>
    internal SessionCore Core { get; } = new();

    public override string ToString() => $"session {Id}";
}
