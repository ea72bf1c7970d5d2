namespace RegionChat.Inference.Internal;

/// <summary>
/// The default session record store: this process's memory, bounded by a byte budget (least recently used records
/// dropped first) and the idle time. Images stay in the process's own image store; leases are per process.
/// </summary>
internal sealed class InMemorySessionRecordStore(TimeSpan idle, long maxBytes) : ISessionRecordStore
{
    sealed class Entry(string model, string? systemPrompt)
    {
        public string Model { get; } = model;
        public string? SystemPrompt { get; } = systemPrompt;
        public List<TurnRecord> Turns { get; } = [];
        public long Bytes;
        public long LastUsed = Environment.TickCount64;
    }

    readonly Dictionary<string, Entry> records = new(StringComparer.Ordinal);
    readonly HashSet<string> leases = new(StringComparer.Ordinal);
    long usedBytes;

    public string Kind => "memory";

    public long UsedBytes { get { lock (records) return usedBytes; } }

    public Task<SessionRecord?> GetAsync(string sessionId, CancellationToken ct)
    {
        lock (records)
            return Task.FromResult(Live(sessionId) is { } e ? new SessionRecord(e.Model, e.SystemPrompt, e.Turns.ToArray()) : null);
    }

    public Task<int> TurnCountAsync(string sessionId, CancellationToken ct)
    {
        lock (records) return Task.FromResult(Live(sessionId)?.Turns.Count ?? -1);
    }

    /// <summary>Never false: ending a session here also closes its live copy, which cancels a turn that is running.</summary>
    public Task<bool> SaveAsync(string sessionId, string model, string? systemPrompt, IReadOnlyList<TurnRecord> turns, int storedTurns,
        CancellationToken ct)
    {
        lock (records)
        {
            var e = Live(sessionId);
            if (e == null || e.Turns.Count != storedTurns || e.Model != model)
            {
                Drop(sessionId);
                e = records[sessionId] = new Entry(model, systemPrompt);
                storedTurns = 0;
            }
            foreach (var t in turns.Skip(storedTurns))
            {
                e.Turns.Add(t);
                long b = t.ApproximateBytes();
                e.Bytes += b;
                usedBytes += b;
            }
            e.LastUsed = Environment.TickCount64;
            // The budget holds: least recently used records go first (never the one just saved).
            while (usedBytes > maxBytes && records.Count > 1)
                Drop(records.Where(r => r.Key != sessionId).MinBy(r => r.Value.LastUsed).Key);
        }
        return Task.FromResult(true);
    }

    public Task<bool> RemoveAsync(string sessionId, CancellationToken ct)
    {
        lock (records) return Task.FromResult(Live(sessionId) != null && Drop(sessionId));
    }

    public Task<IAsyncDisposable?> TryLeaseAsync(string sessionId, CancellationToken ct)
    {
        lock (leases) return Task.FromResult<IAsyncDisposable?>(leases.Add(sessionId) ? new Lease(this, sessionId) : null);
    }

    sealed class Lease(InMemorySessionRecordStore store, string id) : IAsyncDisposable
    {
        int released;
        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
                lock (store.leases) store.leases.Remove(id);
            return ValueTask.CompletedTask;
        }
    }

    public Task PutImageAsync(string imageId, ReadOnlyMemory<byte> bytes, CancellationToken ct) => Task.CompletedTask;

    public Task<IReadOnlyList<string>> TouchImagesAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    public Task<byte[]?> GetImageAsync(string imageId, CancellationToken ct) => Task.FromResult<byte[]?>(null);

    public int SweepIdle()
    {
        lock (records)
        {
            long now = Environment.TickCount64;
            var idleIds = records.Where(r => now - r.Value.LastUsed > idle.TotalMilliseconds).Select(r => r.Key).ToList();
            foreach (var id in idleIds) Drop(id);
            return idleIds.Count;
        }
    }

    /// <summary>The record unless it is idle past its time (then it is dropped); under the lock.</summary>
    Entry? Live(string id)
    {
        if (!records.TryGetValue(id, out var e)) return null;
        if (Environment.TickCount64 - e.LastUsed <= idle.TotalMilliseconds) return e;
        Drop(id);
        return null;
    }

    bool Drop(string id)
    {
        if (!records.Remove(id, out var e)) return false;
        usedBytes -= e.Bytes;
        return true;
    }

    public void Dispose() { }
}
