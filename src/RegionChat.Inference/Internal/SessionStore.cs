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
    public long LastUsedTicks = Environment.TickCount64;
    /// <summary>1 while a turn runs: a session answers one turn at a time.</summary>
    public int Busy;
    public void Touch() => Interlocked.Exchange(ref LastUsedTicks, Environment.TickCount64);
    public void Dispose() => Chat.Dispose();
}

/// <summary>Sessions by id. Idle sessions expire (their KV cache is freed); the engine evicts least recently used
/// sequences when KV space runs short, after which the session answers NOT_FOUND.</summary>
internal sealed class SessionStore(TimeSpan idle) : IDisposable
{
    readonly ConcurrentDictionary<string, ChatSessionEntry> sessions = new(StringComparer.Ordinal);

    public int Count => sessions.Count;

    /// <summary>A new session with the given id (a client's choice), or a fresh one; null when that id is taken.</summary>
    public ChatSessionEntry? Create(RegionChatModel model, string? systemPrompt, string? id = null)
    {
        var entry = new ChatSessionEntry(id ?? "s-" + Guid.NewGuid().ToString("N"), model, model.StartChat(systemPrompt));
        if (sessions.TryAdd(entry.Id, entry)) return entry;
        entry.Dispose();
        return null;
    }

    public ChatSessionEntry? Get(string id) => sessions.TryGetValue(id, out var e) ? e : null;

    public bool Remove(string id)
    {
        if (!sessions.TryRemove(id, out var e)) return false;
        e.Dispose();
        return true;
    }

    /// <summary>Drops sessions idle longer than the configured time; returns how many.</summary>
    public int SweepIdle()
    {
        long now = Environment.TickCount64;
        int n = 0;
        foreach (var (id, e) in sessions)
            if (Volatile.Read(ref e.Busy) == 0 && now - Interlocked.Read(ref e.LastUsedTicks) > idle.TotalMilliseconds && Remove(id)) n++;
        return n;
    }

    public void Dispose()
    {
        foreach (var id in sessions.Keys) Remove(id);
    }
}
