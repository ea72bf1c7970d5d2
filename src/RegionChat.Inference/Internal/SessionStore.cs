using System.Collections.Concurrent;
using RegionChat.Llm.Engine;

namespace RegionChat.Inference.Internal;

/// <summary>A chat session: its conversation on the model's shared context and the image a region-only turn refers to.</summary>
internal sealed class ChatSessionEntry(string id, RegionChatModel model, ChatSession chat) : IDisposable
{
    public string Id { get; } = id;
    public RegionChatModel Model { get; } = model;
    public ChatSession Chat { get; } = chat;
    public string? LastImageId { get; set; }
    /// <summary>The turns as the session record store keeps them (in step with the chat's recorded turns).</summary>
    public List<TurnRecord> Records { get; } = [];
    /// <summary>How the record store keeps each visual block this session has fed (by block identity).</summary>
    public Dictionary<EmbeddingBlock, VisualRecord> Visuals { get; } = new(ReferenceEqualityComparer.Instance);
    /// <summary>Images already put in the shared image store for this session.</summary>
    public HashSet<string> SharedImages { get; } = new(StringComparer.Ordinal);
    /// <summary>Turns the record store is known to hold (0 for a session new here).</summary>
    public int StoredTurns { get; set; }
    /// <summary>The last write of the record failed: the store holds <see cref="StoredTurns"/> turns or fewer, unless
    /// another writer went on meanwhile (then this copy is dropped, never written over theirs).</summary>
    public bool Unwritten;
    /// <summary>False once a turn fed a region made in process, which a record cannot keep: the session is not recorded.</summary>
    public bool Recordable { get; set; } = true;
    public long LastUsedTicks = Environment.TickCount64;
    /// <summary>1 while a turn runs (or the record is written again): a session answers one turn at a time.</summary>
    public int Busy;
    /// <summary>The write lease kept after a turn whose record could not be written, until a later write succeeds: another
    /// replica must not answer from the older record meanwhile. The session's next turn here takes it over.</summary>
    public IAsyncDisposable? KeptLease;
    /// <summary>1 while a background write of an <see cref="Unwritten"/> record retries.</summary>
    public int Rewriting;
    public void Touch() => Interlocked.Exchange(ref LastUsedTicks, Environment.TickCount64);
    public void Dispose() => Chat.Dispose();
}

/// <summary>The sessions this replica holds live (their sequences), by id. Idle sessions expire (their KV cache is
/// freed); the engine evicts least recently used sequences when KV space runs short. What a session is lives in the
/// session record store (<see cref="ISessionRecordStore"/>), from which a session that is not live here is restored.</summary>
internal sealed class SessionStore(TimeSpan idle) : IDisposable
{
    readonly ConcurrentDictionary<string, ChatSessionEntry> sessions = new(StringComparer.Ordinal);

    public int Count => sessions.Count;

    /// <summary>A new session with the given id (a client's choice), or a fresh one; null when that id is taken.</summary>
    public ChatSessionEntry? Create(RegionChatModel model, string? systemPrompt, string? id = null, bool oneShot = false)
    {
        var entry = new ChatSessionEntry(id ?? "s-" + Guid.NewGuid().ToString("N"), model, model.StartChat(systemPrompt, oneShot));
        if (sessions.TryAdd(entry.Id, entry)) return entry;
        entry.Dispose();
        return null;
    }

    /// <summary>Puts a session rebuilt from its record under its id, in place of any stale entry.</summary>
    public ChatSessionEntry Adopt(string id, RegionChatModel model, ChatSession chat)
    {
        var entry = new ChatSessionEntry(id, model, chat);
        ChatSessionEntry? old = null;
        sessions.AddOrUpdate(id, entry, (_, e) => { old = e; return entry; });
        old?.Dispose();
        return entry;
    }

    public ChatSessionEntry? Get(string id) => sessions.TryGetValue(id, out var e) ? e : null;

    public bool Remove(string id)
    {
        if (!sessions.TryRemove(id, out var e)) return false;
        e.Dispose();
        return true;
    }

    /// <summary>Drops sessions idle longer than the configured time; returns how many. Also lets go of sessions whose
    /// sequence was evicted and whose record store holds every turn (their next turn restores them from it), so live
    /// memory follows the sequences held, not the sessions.</summary>
    public int SweepIdle()
    {
        long now = Environment.TickCount64;
        int n = 0;
        foreach (var (id, e) in sessions)
        {
            if (Volatile.Read(ref e.Busy) != 0) continue;
            if (now - Interlocked.Read(ref e.LastUsedTicks) > idle.TotalMilliseconds && Remove(id)) n++;
            else if (e.Chat.Sequence.State == LlmSessionState.Evicted && e.Recordable && !e.Unwritten && e.StoredTurns == e.Records.Count
                     && e.Records.Count > 0) Remove(id);
        }
        return n;
    }

    public void Dispose()
    {
        foreach (var id in sessions.Keys) Remove(id);
    }
}
