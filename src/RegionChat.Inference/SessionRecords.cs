namespace RegionChat.Inference;

/// <summary>
/// Durable records of chat sessions, shared by every replica that serves them: what a session is (model, system
/// prompt, each turn's exact prompt token ids, visual blocks and generated token ids), not its KV cache. A replica
/// that does not hold a session (a restart, another replica, an evicted sequence) rebuilds it from its record by
/// replay. Also a content-addressed image store, so any replica can re-encode a recorded image, and a per-session
/// lease, so two replicas never extend one session at once. In memory by default; Redis when configured
/// (<see cref="SessionStoreOptions.Redis"/>). Failures of a remote store are <see cref="SessionStoreUnavailableException"/>.
/// </summary>
public interface ISessionRecordStore : IDisposable
{
    /// <summary>"memory" or "redis" (with "+folder" when images go to a shared folder), for logs.</summary>
    string Kind { get; }

    /// <summary>The session's record, or null when it is unknown or expired.</summary>
    Task<SessionRecord?> GetAsync(string sessionId, CancellationToken ct);

    /// <summary>How many turns the store holds for the session (-1: none, no record; <see cref="Ended"/>: it was ended).</summary>
    Task<int> TurnCountAsync(string sessionId, CancellationToken ct);

    /// <summary>The turn count of a session that was ended (on any replica) within the idle time.</summary>
    const int Ended = -2;

    /// <summary>
    /// Saves a session after a turn: <paramref name="turns"/> are all its turns, of which the store already holds the
    /// first <paramref name="storedTurns"/> (it appends the rest; -1: unknown); when it holds fewer (it lost the record,
    /// or never had it) the whole record is written again. Refreshes the idle time (the record's time to live). False,
    /// writing nothing, when the session was ended meanwhile (unless <paramref name="storedTurns"/> is 0: a new session
    /// may reuse an ended one's id) or the store holds more turns than <paramref name="storedTurns"/> (another writer
    /// went on: the caller's copy is behind).
    /// </summary>
    Task<bool> SaveAsync(string sessionId, string model, string? systemPrompt, IReadOnlyList<TurnRecord> turns, int storedTurns, CancellationToken ct);

    /// <summary>Forgets a session, and marks it ended for the idle time so replicas that hold it live drop it too;
    /// false when it was not there.</summary>
    Task<bool> RemoveAsync(string sessionId, CancellationToken ct);

    /// <summary>Takes the session's write lease (renewed until disposed); null when another writer holds it.</summary>
    Task<IAsyncDisposable?> TryLeaseAsync(string sessionId, CancellationToken ct);

    /// <summary>Shares an image's bytes under its content id (no-op for a store without an image store).</summary>
    Task PutImageAsync(string imageId, ReadOnlyMemory<byte> bytes, CancellationToken ct);

    /// <summary>Renews the shared images a live session still uses (their time to live, and their place in the byte
    /// budget's order); returns the ids the store no longer holds (empty for a store without an image store).</summary>
    Task<IReadOnlyList<string>> TouchImagesAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct);

    /// <summary>A shared image's bytes, or null.</summary>
    Task<byte[]?> GetImageAsync(string imageId, CancellationToken ct);

    /// <summary>Drops records idle past their time (for stores without their own expiry); returns how many.</summary>
    int SweepIdle();
}

/// <summary>A remote session store (Redis) could not be reached or failed.</summary>
public sealed class SessionStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The "RegionChat:SessionStore" settings.</summary>
public sealed record SessionStoreOptions
{
    /// <summary>A StackExchange.Redis connection string ("127.0.0.1:6379"); empty = the in-memory store of this process.</summary>
    public string Redis { get; init; } = "";
    /// <summary>Prefix of every Redis key, so several deployments can share one Redis.</summary>
    public string KeyPrefix { get; init; } = "regionchat:";
    /// <summary>In memory: the byte budget of all session records (least recently used dropped first).</summary>
    public long MaxBytes { get; init; } = 256L << 20;
    /// <summary>A folder every replica mounts, for the shared images instead of Redis; empty = Redis when set.</summary>
    public string ImageFolder { get; init; } = "";
    /// <summary>Redis or the image folder: the byte budget of shared images (least recently stored dropped first).</summary>
    public long ImageBytes { get; init; } = 1L << 30;
    /// <summary>Redis or the image folder: how long a shared image lives after it was last stored.</summary>
    public double ImageSeconds { get; init; } = 3600;
    /// <summary>How long a session's write lease lives unless renewed (it is renewed at a third of it while a turn runs).</summary>
    public double LeaseSeconds { get; init; } = 15;
}

/// <summary>A session as the store keeps it.</summary>
public sealed record SessionRecord(string Model, string? SystemPrompt, IReadOnlyList<TurnRecord> Turns);

/// <summary>
/// One turn of a session exactly as its sequence got it: the new messages, the prompt fed (token ids and visual blocks
/// in order: on a follow-up it comes after the previous turn's generated tokens; <see cref="FromStart"/> when the
/// whole conversation was rendered again) and the generated token ids, with the answer as shown and raw.
/// </summary>
public sealed record TurnRecord
{
    public bool FromStart { get; init; }
    public required IReadOnlyList<MessageRecord> Messages { get; init; }
    /// <summary>The visual blocks the messages and the prompt refer to (by index).</summary>
    public required IReadOnlyList<VisualRecord> Visuals { get; init; }
    public required IReadOnlyList<PromptItemRecord> Prompt { get; init; }
    public required IReadOnlyList<int> Output { get; init; }
    public string Answer { get; init; } = "";
    public string RawAnswer { get; init; } = "";

    /// <summary>Approximate bytes the record takes (for the in-memory byte budget).</summary>
    public long ApproximateBytes() =>
        256 + Answer.Length * 2L + RawAnswer.Length * 2L + Output.Count * 4L + Messages.Sum(m => 32L + m.Text.Length * 2L)
        + Visuals.Sum(v => 128L + v.Region.Length * 2L) + Prompt.Sum(p => 16L + (p.Tokens?.Count ?? 0) * 4L);
}

/// <summary>A message of a turn; <see cref="Visual"/> indexes the turn's visuals (-1: none).</summary>
public sealed record MessageRecord(bool User, string Text, int Visual = -1);

/// <summary>A visual block: the image's content id, the region (its JSON description, "alpha" for an RGBA image's own
/// alpha) with its visual-cache key, the rows it injected and the visual-token budget that chose them (0 = all).</summary>
public sealed record VisualRecord(string ImageId, string RegionKey, string Region, int Rows, int Budget = 0);

/// <summary>A run of prompt positions: token ids, or the visual block with that index in the turn's visuals.</summary>
public sealed record PromptItemRecord(IReadOnlyList<int>? Tokens, int Visual = -1);
