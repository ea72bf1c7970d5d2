using System.Text.Json;
using StackExchange.Redis;

namespace RegionChat.Inference.Internal;

/// <summary>
/// Session records, leases and shared images in Redis (StackExchange.Redis), for replicas that share sessions. Keys
/// (all under <see cref="SessionStoreOptions.KeyPrefix"/>): "s:ID:meta" (model, system prompt and turn count, JSON) and
/// "s:ID:turns" (a list of turn records, JSON), both expiring after the session idle time; a record whose list does not
/// hold the count of its header (a Redis that evicted one key of the two) is no record; "lease:ID" (the writer's token, with a
/// time to live, renewed while its turn runs); "img:sha256:HEX" (image bytes, expiring), "img:index" (a sorted set of
/// image ids by time last stored or used), "img:sizes" (a hash of their sizes) and "img:total" (the sum of those sizes),
/// which keep the images within their byte budget.
/// Every failure to reach Redis is a <see cref="SessionStoreUnavailableException"/>.
/// </summary>
internal sealed class RedisSessionRecordStore : ISessionRecordStore
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // KEYS: meta, turns. ARGV: turns stored, idle ms, the new turns. 0 when the store lost turns (or the record): write it
    // whole; -1 when the session was ended, or another writer went on past the turns stored: write nothing.
    const string AppendScript = """
        local meta = redis.call('GET', KEYS[1])
        if meta == 'ended' then return -1 end
        if not meta then return 0 end
        local n = redis.call('LLEN', KEYS[2])
        if n > tonumber(ARGV[1]) then return -1 end
        if n < tonumber(ARGV[1]) then return 0 end
        for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
        local head = cjson.decode(meta)
        head['turns'] = redis.call('LLEN', KEYS[2])
        redis.call('SET', KEYS[1], cjson.encode(head), 'PX', ARGV[2])
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        return 1
        """;

    // KEYS: meta, turns. ARGV: header, idle ms, 1 for a new session's first record, the turns. A session ended meanwhile
    // (on any replica) is not written again, unless this is a new session that reuses the id: 0 then.
    const string ReplaceScript = """
        if ARGV[3] ~= '1' and redis.call('GET', KEYS[1]) == 'ended' then return 0 end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        for i = 4, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
        if #ARGV >= 4 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
        return 1
        """;

    // A record whose list lost turns (an evicting Redis) counts what its header says it held (records written before
    // the header kept a count have none): a live copy with fewer is behind and must not answer, one with as many is
    // current and writes the record again; GetAsync gives no record for it.
    const string CountScript = """
        local meta = redis.call('GET', KEYS[1])
        if not meta then return -1 end
        if meta == 'ended' then return -2 end
        local n = redis.call('LLEN', KEYS[2])
        local ok, head = pcall(cjson.decode, meta)
        if ok and type(head) == 'table' and type(head['turns']) == 'number' then return head['turns'] end
        return n
        """;

    // KEYS: meta, turns. ARGV: idle ms. Leaves "ended" in meta for the idle time; 1 when a live record was there.
    const string EndScript = """
        local meta = redis.call('GET', KEYS[1])
        redis.call('DEL', KEYS[2])
        redis.call('SET', KEYS[1], 'ended', 'PX', ARGV[1])
        if meta and meta ~= 'ended' then return 1 end
        return 0
        """;

    const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    // KEYS: image, index, sizes, total. ARGV: bytes, ttl ms, now ms, byte bound, id, image key prefix. The running total
    // keeps a put's cost to the images it drops (summing every size on each put blocked Redis for a long time once it
    // held many); a total missing (a store written before it was kept) is summed once.
    const string PutImageScript = """
        local ttl, now, bound = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local total = tonumber(redis.call('GET', KEYS[4]) or '-1')
        if total < 0 then
          total = 0
          for _, v in ipairs(redis.call('HVALS', KEYS[3])) do total = total + tonumber(v) end
        end
        total = total - tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0') + string.len(ARGV[1])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
        redis.call('HSET', KEYS[3], ARGV[5], string.len(ARGV[1]))
        redis.call('ZADD', KEYS[2], now, ARGV[5])
        local function drop(id)
          total = total - tonumber(redis.call('HGET', KEYS[3], id) or '0')
          redis.call('ZREM', KEYS[2], id)
          redis.call('HDEL', KEYS[3], id)
          redis.call('DEL', ARGV[6] .. id)
        end
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)) do drop(id) end
        while total > bound do
          local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
          if #oldest == 0 or oldest[1] == ARGV[5] then break end
          drop(oldest[1])
        end
        redis.call('SET', KEYS[4], total)
        return total
        """;

    // KEYS: index. ARGV: ttl ms, now ms, image key prefix, the ids. Images still held live on (time to live and place in
    // the budget's order renewed); returns the ids not held.
    const string TouchImagesScript = """
        local missing = {}
        for i = 4, #ARGV do
          if redis.call('PEXPIRE', ARGV[3] .. ARGV[i], ARGV[1]) == 1 then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
          else missing[#missing + 1] = ARGV[i] end
        end
        return missing
        """;

    readonly ConnectionMultiplexer redis;
    readonly SessionStoreOptions options;
    readonly TimeSpan idle;
    readonly string prefix;

    public RedisSessionRecordStore(SessionStoreOptions options, TimeSpan idle)
    {
        this.options = options;
        this.idle = idle;
        prefix = options.KeyPrefix;
        var config = ConfigurationOptions.Parse(options.Redis);
        // Start and keep serving while Redis is away (it reconnects by itself); calls meanwhile fail at once.
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        redis = ConnectionMultiplexer.Connect(config);
    }

    public string Kind => "redis";

    IDatabase Db => redis.GetDatabase();
    RedisKey Meta(string id) => prefix + "s:" + id + ":meta";
    RedisKey Turns(string id) => prefix + "s:" + id + ":turns";
    RedisKey LeaseKey(string id) => prefix + "lease:" + id;
    RedisKey ImageKey(string id) => prefix + "img:" + id;
    long IdleMs => Math.Max(1, (long)idle.TotalMilliseconds);
    long LeaseMs => Math.Max(100, (long)(options.LeaseSeconds * 1000));

    /// <summary>A record's header; <see cref="Turns"/> is null in records written before it was kept.</summary>
    sealed record Head(string Model, string? SystemPrompt, int? Turns);

    public Task<SessionRecord?> GetAsync(string sessionId, CancellationToken ct) => Call(async db =>
    {
        var batch = db.CreateTransaction();
        var meta = batch.StringGetAsync(Meta(sessionId));
        var turns = batch.ListRangeAsync(Turns(sessionId));
        await batch.ExecuteAsync().ConfigureAwait(false);
        var m = await meta.ConfigureAwait(false);
        if (m.IsNull || m == "ended") return null;
        var head = JsonSerializer.Deserialize<Head>((string)m!, Json)!;
        var list = (await turns.ConfigureAwait(false)).Select(t => JsonSerializer.Deserialize<TurnRecord>((string)t!, Json)!).ToArray();
        // Half a record (Redis evicted its turns, or some of them) must not pass for a whole one: no history is no answer.
        if (head.Turns is int n && n != list.Length) return null;
        return new SessionRecord(head.Model, head.SystemPrompt, list);
    });

    public Task<int> TurnCountAsync(string sessionId, CancellationToken ct) => Call(async db =>
        (int)await db.ScriptEvaluateAsync(CountScript, [Meta(sessionId), Turns(sessionId)]).ConfigureAwait(false));

    public Task<bool> SaveAsync(string sessionId, string model, string? systemPrompt, IReadOnlyList<TurnRecord> turns, int storedTurns,
        CancellationToken ct) => Call(async db =>
    {
        RedisKey[] keys = [Meta(sessionId), Turns(sessionId)];
        if (storedTurns > 0 && storedTurns <= turns.Count)
        {
            RedisValue[] append = [storedTurns, IdleMs, .. turns.Skip(storedTurns).Select(t => (RedisValue)JsonSerializer.Serialize(t, Json))];
            int appended = (int)await db.ScriptEvaluateAsync(AppendScript, keys, append).ConfigureAwait(false);
            if (appended != 0) return appended == 1;
        }
        RedisValue[] all = [JsonSerializer.Serialize(new Head(model, systemPrompt, turns.Count), Json), IdleMs, storedTurns == 0 ? 1 : 0,
            .. turns.Select(t => (RedisValue)JsonSerializer.Serialize(t, Json))];
        return (int)await db.ScriptEvaluateAsync(ReplaceScript, keys, all).ConfigureAwait(false) == 1;
    });

    public Task<bool> RemoveAsync(string sessionId, CancellationToken ct) => Call(async db =>
        (int)await db.ScriptEvaluateAsync(EndScript, [Meta(sessionId), Turns(sessionId)], [IdleMs]).ConfigureAwait(false) == 1);

    public Task<IAsyncDisposable?> TryLeaseAsync(string sessionId, CancellationToken ct) => Call<IAsyncDisposable?>(async db =>
    {
        string token = Environment.MachineName + ":" + Environment.ProcessId + ":" + Guid.NewGuid().ToString("N");
        var key = LeaseKey(sessionId);
        if (!await db.StringSetAsync(key, token, TimeSpan.FromMilliseconds(LeaseMs), When.NotExists).ConfigureAwait(false)) return null;
        return new Lease(this, key, token);
    });

    /// <summary>A held lease: renewed at a third of its time to live until disposed, then released if still ours.</summary>
    sealed class Lease : IAsyncDisposable
    {
        readonly RedisSessionRecordStore store;
        readonly RedisKey key;
        readonly string token;
        readonly Timer renew;
        int released;

        public Lease(RedisSessionRecordStore store, RedisKey key, string token)
        {
            this.store = store;
            this.key = key;
            this.token = token;
            long period = Math.Max(30, store.LeaseMs / 3);
            renew = new Timer(_ => Renew(), null, period, period);
        }

        void Renew()
        {
            if (Volatile.Read(ref released) != 0) return;
            try { store.Db.ScriptEvaluate(RenewScript, [key], [token, store.LeaseMs], CommandFlags.FireAndForget); }
            catch (RedisException) { } // Redis is away: the lease lapses, as it would for a dead replica
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref released, 1) != 0) return;
            await renew.DisposeAsync().ConfigureAwait(false);
            try { await store.Db.ScriptEvaluateAsync(ReleaseScript, [key], [token]).ConfigureAwait(false); }
            catch (RedisException) { } // it lapses by itself
        }
    }

    long ImageTtlMs => Math.Max(1000, (long)(options.ImageSeconds * 1000));

    public Task PutImageAsync(string imageId, ReadOnlyMemory<byte> bytes, CancellationToken ct) => Call(async db =>
    {
        await db.ScriptEvaluateAsync(PutImageScript, [ImageKey(imageId), prefix + "img:index", prefix + "img:sizes", prefix + "img:total"],
            [bytes, ImageTtlMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), options.ImageBytes, imageId, prefix + "img:"]).ConfigureAwait(false);
        return true;
    });

    public Task<IReadOnlyList<string>> TouchImagesAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct) => Call(async db =>
    {
        if (imageIds.Count == 0) return (IReadOnlyList<string>)[];
        var missing = await db.ScriptEvaluateAsync(TouchImagesScript, [prefix + "img:index"],
            [ImageTtlMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), prefix + "img:", .. imageIds.Select(i => (RedisValue)i)]).ConfigureAwait(false);
        return (IReadOnlyList<string>)((RedisResult[])missing!).Select(r => (string)r!).ToArray();
    });

    public Task<byte[]?> GetImageAsync(string imageId, CancellationToken ct) => Call(async db =>
        (byte[]?)await db.StringGetAsync(ImageKey(imageId)).ConfigureAwait(false));

    public int SweepIdle() => 0; // Redis expires records by itself

    async Task<T> Call<T>(Func<IDatabase, Task<T>> call)
    {
        try { return await call(Db).ConfigureAwait(false); }
        catch (RedisException e) { throw new SessionStoreUnavailableException($"the session store (Redis) failed: {e.Message}", e); }
        catch (TimeoutException e) { throw new SessionStoreUnavailableException($"the session store (Redis) timed out: {e.Message}", e); }
    }

    public void Dispose() => redis.Dispose();
}
