using System.Net;
using System.Text.Json.Nodes;
using Grpc.Core;
using RegionChat.Data.Shapes;
using RegionChat.Server.Tests.OpenAi;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// Sessions outlive their KV sequence (issue 13.1–2, 16.4): a session evicted to make room, or continued on a server
/// that never held it (two servers sharing one real redis-server), is rebuilt by replaying its record (every prompt and
/// answer token, every image region re-injected) and answers exactly as it would have without the replay.
/// </summary>
public class SessionRestoreTests
{
    static readonly byte[] First = TestImages.Scene(31), Second = TestImages.Scene(32);

    /// <summary>Turn i of a scripted conversation on the tiny random model: images, regions, a region-only turn, text.</summary>
    static PbV1.ChatRequest TinyTurn(int i, string session) => i switch
    {
        0 => Calls.Chat("what is this?", First, Calls.Box(0, 0, 32, 32), maxTokens: 12),
        1 => Calls.Chat("what color is it?", maxTokens: 12, sessionId: session),
        2 => Calls.Chat("and this one?", Second, Calls.Box(16, 16, 64, 64), maxTokens: 12, sessionId: session),
        3 => Calls.Chat("and here?", region: Calls.Box(0, 32, 32, 64), maxTokens: 12, sessionId: session),
        _ => Calls.Chat($"tell me more ({i})", maxTokens: 12, sessionId: session),
    };

    const int TinyTurns = 6;

    /// <summary>The conversation on one server with nothing in its way: the answers a replay must reproduce.</summary>
    static async Task<string[]> ReferenceAsync(ServerHost host, Func<int, string, PbV1.ChatRequest> turn, int turns)
    {
        var answers = new string[turns];
        string session = "";
        for (int i = 0; i < turns; i++)
        {
            var r = await host.Client.ChatAsync(turn(i, session));
            Assert.False(r.Started.Restored);
            session = r.Started.SessionId;
            answers[i] = r.Text;
        }
        return answers;
    }

    [Fact]
    public async Task AnEvictedSessionIsRestoredByReplayAndAnswersAsIfNeverEvicted()
    {
        // One sequence: every other conversation's turn evicts this one (issue 16.4: it used to be NOT_FOUND).
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"));
        var reference = await ReferenceAsync(host, TinyTurn, TinyTurns);

        string session = "";
        long evictionsBefore = host.Model.Llm.Statistics.Evictions;
        for (int i = 0; i < TinyTurns; i++)
        {
            var r = await host.Client.ChatAsync(TinyTurn(i, session));
            session = r.Started.SessionId;
            Assert.Equal(reference[i], r.Text);
            if (i > 0)
            {
                Assert.True(r.Started.Restored, $"turn {i} was not restored");
                Assert.Equal(0u, r.Started.CachedTokens);
                Assert.InRange(r.Started.RestoredTokens, 17u, r.Started.PromptTokens - 1);
            }
            // A one-shot caller takes the only sequence.
            var other = await host.Client.ChatAsync(Calls.Chat("something else", TestImages.Scene(40 + i), maxTokens: 4));
            Assert.False(other.Started.Restored);
        }
        Assert.True(host.Model.Llm.Statistics.Evictions - evictionsBefore >= TinyTurns - 1, "the session was not evicted between its turns");
        string metrics = await host.MetricsAsync();
        Assert.Contains("regionchat_sessions_restored", metrics);
        Assert.Contains("reason=\"evicted\"", metrics);

        // The OpenAI API reports it in the usage.
        var other2 = await host.Client.ChatAsync(Calls.Chat("evict it", maxTokens: 2));
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "and now?"));
        body["session_id"] = session;
        var completion = await OpenAiHttp.CompleteAsync(http, body);
        Assert.True((bool)completion["usage"]!["restored"]!);
        Assert.True((int)completion["usage"]!["restored_tokens"]! > 0);
    }

    /// <summary>Issue 16.4's acceptance, scaled: 16 users taking turns with 16 one-shot callers beside them on 8
    /// sequences of shapes-tiny: no follow-up is NOT_FOUND, and every answer equals the unloaded run's. (shapes-tiny, not
    /// the random model: the random model's near-ties flip under any concurrent batching, replay or not — 2 of 48 answers
    /// with 40 sequences and no eviction — while a trained model's answers do not.)</summary>
    [Fact]
    public async Task SixteenUsersWithSixteenOneShotCallersLoseNoFollowUpAndAnswerAsUnloaded()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
            ["RegionChat:ParallelSequences"] = "8",
        });
        const int Users = 16, Turns = 3;
        var scenes = Enumerable.Range(0, Users).Select(u => ShapesGenerator.Generate(1_000_001_000 + u)).ToArray();
        var images = scenes.Select(sc => Png(p => sc.SavePng(p))).ToArray();
        var masks = scenes.Select(sc => Png(p => ShapesPng.SaveMaskPng(sc.Objects[0].VisibleMask, p))).ToArray();
        PbV1.ChatRequest Turn(int user, int i, string session) => i switch
        {
            0 => Calls.Chat(ShapesText.DescribeRegion, images[user], new PbV1.Region { MaskPng = Google.Protobuf.ByteString.CopyFrom(masks[user]) },
                maxTokens: 16),
            1 => Calls.Chat("what color is it?", maxTokens: 8, sessionId: session),
            _ => Calls.Chat("what shape is it?", maxTokens: 8, sessionId: session),
        };
        async Task<(string[] Answers, int Restored)> ConversationAsync(int user)
        {
            var answers = new string[Turns];
            string session = "";
            int restored = 0;
            for (int i = 0; i < Turns; i++)
            {
                var r = await host.Client.ChatAsync(Turn(user, i, session), timeout: TimeSpan.FromMinutes(3));
                session = r.Started.SessionId;
                answers[i] = r.Text;
                if (r.Started.Restored) restored++;
            }
            return (answers, restored);
        }

        var unloaded = new string[Users][];
        for (int u = 0; u < Users; u++) unloaded[u] = (await ConversationAsync(u)).Answers;

        long evictionsBefore = host.Model.Llm.Statistics.Evictions;
        var oneShots = Enumerable.Range(0, Users).Select(async k =>
        {
            for (int j = 0; j < Turns; j++)
                await host.Client.CaptionAsync(new PbV1.CaptionRequest
                {
                    Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(images[(k + j + 1) % Users]) }, MaxTokens = 16,
                }, deadline: Calls.Deadline(TimeSpan.FromMinutes(3)));
        }).ToArray();
        var users = Enumerable.Range(0, Users).Select(ConversationAsync).ToArray();
        await Task.WhenAll(oneShots);
        var loaded = await Task.WhenAll(users);   // a NOT_FOUND follow-up would throw here

        for (int u = 0; u < Users; u++) Assert.Equal(unloaded[u], loaded[u].Answers);
        Assert.True(host.Model.Llm.Statistics.Evictions > evictionsBefore, "the load evicted no session: the test shows nothing");
        Assert.True(loaded.Sum(l => l.Restored) > 0, "no follow-up was restored");
    }

    [Fact]
    public async Task ShapesTinyAnswersTheSameAfterEvictionReplays()
    {
        var settings = new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
            ["RegionChat:ParallelSequences"] = "1",
        };
        await using var host = await ServerHost.StartAsync(settings);
        var scene = ShapesGenerator.Generate(1_000_000_778);
        byte[] image = Png(p => scene.SavePng(p));
        PbV1.Region Mask(int k) => new() { MaskPng = Google.Protobuf.ByteString.CopyFrom(Png(p => ShapesPng.SaveMaskPng(scene.Objects[k].VisibleMask, p))) };
        PbV1.ChatRequest Turn(int i, string session) => i switch
        {
            0 => Calls.Chat(ShapesText.DescribeRegion, image, Mask(0), maxTokens: 16),
            1 => Calls.Chat("what color is it?", maxTokens: 8, sessionId: session),
            2 => Calls.Chat(ShapesText.DescribeRegion, region: Mask(1), maxTokens: 16, sessionId: session),
            3 => Calls.Chat("what shape is it?", maxTokens: 8, sessionId: session),
            _ => Calls.Chat("is it bigger than the first one?", maxTokens: 8, sessionId: session),
        };
        var reference = await ReferenceAsync(host, Turn, 5);
        Assert.Equal(scene.Objects[0].Caption, reference[0]);

        string session = "";
        for (int i = 0; i < 5; i++)
        {
            var r = await host.Client.ChatAsync(Turn(i, session));
            session = r.Started.SessionId;
            Assert.Equal(reference[i], r.Text);
            Assert.Equal(i > 0, r.Started.Restored);
            await host.Client.ChatAsync(Calls.Chat(ShapesText.DescribeRegion, image, Mask(2), maxTokens: 16)); // evicts it
        }
    }

    static byte[] Png(Action<string> save)
    {
        using var temp = new TempDir();
        string path = temp.File("x.png");
        save(path);
        return File.ReadAllBytes(path);
    }

    static Task<ServerHost> StartOnRedisAsync(RedisServer redis, params (string Key, string Value)[] more) =>
        ServerHost.StartAsync([("SessionStore:Redis", redis.ConnectionString), .. more]);

    [SkippableFact]
    public async Task ASessionStartedOnOneServerContinuesOnAnotherSharingRedisWithTheSameAnswers()
    {
        await using var redis = await RedisServer.StartAsync();
        string[] reference;
        await using (var single = await ServerHost.StartAsync()) reference = await ReferenceAsync(single, TinyTurn, TinyTurns);

        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);
        // Turns alternate A, B, B, A, A, B: each move to the other server replays; staying is a plain follow-up.
        var servers = new[] { a, b, b, a, a, b };
        string session = "";
        for (int i = 0; i < TinyTurns; i++)
        {
            var r = await servers[i].Client.ChatAsync(TinyTurn(i, session));
            session = r.Started.SessionId;
            Assert.Equal(reference[i], r.Text);
            bool moved = i > 0 && servers[i] != servers[i - 1];
            Assert.Equal(moved, r.Started.Restored);
            if (moved) Assert.Equal(0u, r.Started.CachedTokens);
            else if (i > 0) Assert.True(r.Started.CachedTokens > 0);
        }
        Assert.Contains("reason=\"not_live\"", await b.MetricsAsync());
        Assert.Contains("reason=\"stale\"", await a.MetricsAsync());

        // An image stored on A is usable by id on B (the shared image store).
        var stored = await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = TestImages.SceneBytes(77) }, deadline: Calls.Deadline());
        var byId = new PbV1.ChatRequest { Message = new PbV1.UserMessage { Text = "hi", Image = new PbV1.ImageInput { ImageId = stored.ImageId } }, MaxTokens = 2 };
        await b.Client.ChatAsync(byId);

        // Ending it on either server ends it everywhere.
        await a.Client.EndSessionAsync(new PbV1.EndSessionRequest { SessionId = session }, deadline: Calls.Deadline());
        var gone = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(TinyTurn(9, session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [SkippableFact]
    public async Task TheSessionLeaseRefusesASecondWriterOnAnotherServer()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);
        var t1 = await a.Client.ChatAsync(TinyTurn(0, ""));
        string session = t1.Started.SessionId;

        // A writer elsewhere (the lease taken through the store, as A's running turn takes it: a real concurrent turn
        // would make the test depend on how long that turn runs) refuses a turn on B: ABORTED, and 409 over /v1.
        await using (var held = await WaitForLeaseAsync(a, session))
        {
            var refused = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(TinyTurn(1, session), deadline: Calls.Deadline())));
            Assert.Equal(StatusCode.Aborted, refused.StatusCode);
            Assert.Contains(session, refused.Status.Detail);
            Assert.Contains("another turn", refused.Status.Detail);
            Calls.AssertCleanMessage(refused.Status.Detail);

            using var http = OpenAiHttp.Http(b);
            var body = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "me too"));
            body["session_id"] = session;
            var error = await OpenAiHttp.FailsAsync(http, body);
            Assert.Equal(HttpStatusCode.Conflict, error.Status);
            Assert.Equal("session_leased", error.Code);
            Assert.Equal("session_id", error.Param);
        }

        // Once the lease is released B may extend the session.
        var next = await b.Client.ChatAsync(TinyTurn(1, session));
        Assert.True(next.Started.Restored);
    }

    /// <summary>Lets the servers' Redis user reach only these key patterns (ACL), so one kind of write fails while the
    /// rest works; "allkeys" gives everything back.</summary>
    static async Task AllowKeysAsync(RedisServer redis, string patterns) =>
        Assert.Equal("+OK", await redis.CommandAsync(patterns == "allkeys" ? "ACL SETUSER default allkeys" : "ACL SETUSER default resetkeys " + patterns));

    [SkippableFact]
    public async Task ATurnWhoseRecordCannotBeWrittenKeepsTheLeaseSoNoOtherServerAnswersFromTheOlderRecord()
    {
        await using var redis = await RedisServer.StartAsync();
        string[] reference;
        await using (var single = await ServerHost.StartAsync()) reference = await ReferenceAsync(single, TinyTurn, 3);
        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);
        string session = (await a.Client.ChatAsync(TinyTurn(0, ""))).Started.SessionId;

        // Records cannot be written (leases can): A answers turn 1 from its live session, and cannot record it.
        await AllowKeysAsync(redis, "~regionchat:lease:* ~regionchat:img:*");
        Assert.Equal(reference[1], (await a.Client.ChatAsync(TinyTurn(1, session))).Text);
        // B would restore the one-turn record: A's kept lease refuses it instead (ABORTED: retry later).
        var refused = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(TinyTurn(2, session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.Aborted, refused.StatusCode);

        // Once the store takes writes again, A writes the whole record by itself and lets the lease go.
        await AllowKeysAsync(redis, "allkeys");
        Assert.True(await EventuallyAsync(async () => await b.Core.Records.TurnCountAsync(session, CancellationToken.None) == 2),
            "A did not write its unrecorded turn again");
        var moved = await b.Client.ChatAsync(TinyTurn(2, session));
        Assert.True(moved.Started.Restored);
        Assert.Equal(reference[2], moved.Text);
        Assert.Equal(3, await b.Core.Records.TurnCountAsync(session, CancellationToken.None));
    }

    [SkippableFact]
    public async Task ACopyThatCouldNotWriteNeverWritesOverTurnsAnotherReplicaAddedMeanwhile()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartOnRedisAsync(redis);
        string session = (await a.Client.ChatAsync(TinyTurn(0, ""))).Started.SessionId;

        // A answers turn 1 but cannot record it; meanwhile another writer (a replica A could not see: a lapsed lease,
        // a partition) goes on from the one-turn record. The test plays that writer with a Redis user of its own.
        await AllowKeysAsync(redis, "~regionchat:lease:* ~regionchat:img:*");
        Assert.Equal("+OK", await redis.CommandAsync("ACL SETUSER other on >other-secret allkeys allcommands"));
        await a.Client.ChatAsync(TinyTurn(1, session));
        using var other = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},user=other,password=other-secret");
        var db = other.GetDatabase();
        string theirs = (string)(await db.ListGetByIndexAsync($"regionchat:s:{session}:turns", 0))!;   // any turn record will do
        await db.ListRightPushAsync($"regionchat:s:{session}:turns", theirs);
        var head = System.Text.Json.Nodes.JsonNode.Parse((string)(await db.StringGetAsync($"regionchat:s:{session}:meta"))!)!;
        head["turns"] = 2;
        await db.StringSetAsync($"regionchat:s:{session}:meta", head.ToJsonString(), TimeSpan.FromMinutes(10));

        // Once A can write again it finds more turns than it knew of: it drops its copy instead of writing over theirs.
        await AllowKeysAsync(redis, "allkeys");
        Assert.True(await EventuallyAsync(() => Task.FromResult(a.Sessions.Get(session) == null)), "A kept its copy");
        Assert.Equal(2, await db.ListLengthAsync($"regionchat:s:{session}:turns"));
        Assert.Equal(theirs, (string)(await db.ListGetByIndexAsync($"regionchat:s:{session}:turns", 1))!);
        // The next turn on A restores their history.
        Assert.True((await a.Client.ChatAsync(TinyTurn(2, session))).Started.Restored);
        Assert.Equal(3, await db.ListLengthAsync($"regionchat:s:{session}:turns"));
    }

    [SkippableFact]
    public async Task HalfARecordIsNoRecordAndAnImageStoreAwayIsUnavailableNotGone()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);
        string session = (await a.Client.ChatAsync(TinyTurn(0, ""))).Started.SessionId;
        await a.Client.ChatAsync(TinyTurn(1, session));

        // The shared images cannot be read: restoring on B is UNAVAILABLE (retried), not NOT_FOUND (start over), and so is
        // an image id stored through A.
        string stored = (await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = TestImages.SceneBytes(33) }, deadline: Calls.Deadline())).ImageId;
        await AllowKeysAsync(redis, "~regionchat:s:* ~regionchat:lease:*");
        var away = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(TinyTurn(2, session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.Unavailable, away.StatusCode);
        var byId = new PbV1.ChatRequest { Message = new PbV1.UserMessage { Text = "hi", Image = new PbV1.ImageInput { ImageId = stored } }, MaxTokens = 2 };
        var imageAway = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(byId, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.Unavailable, imageAway.StatusCode);
        await AllowKeysAsync(redis, "allkeys");

        // A Redis that lost one of the two turns (an evicting one) holds no record: NOT_FOUND, never an answer without it.
        Assert.StartsWith("$", await redis.CommandAsync($"LPOP regionchat:s:{session}:turns"));
        var half = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(TinyTurn(2, session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, half.StatusCode);
        Assert.Null(await b.Core.Records.GetAsync(session, CancellationToken.None));
        // A, which holds it live with every turn, goes on and writes the whole record again.
        Assert.False((await a.Client.ChatAsync(TinyTurn(2, session))).Started.Restored);
        Assert.Equal(3, await b.Core.Records.TurnCountAsync(session, CancellationToken.None));
        Assert.Equal(3, (await b.Core.Records.GetAsync(session, CancellationToken.None))!.Turns.Count);

        // B takes a turn (A's live copy is now one turn behind), then Redis loses one: A must not answer from its copy.
        Assert.True((await b.Client.ChatAsync(TinyTurn(3, session))).Started.Restored);
        Assert.StartsWith("$", await redis.CommandAsync($"LPOP regionchat:s:{session}:turns"));
        var behind = await Calls.FailsAsync(() => Calls.DrainAsync(a.Client.Chat(TinyTurn(4, session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, behind.StatusCode);
    }

    [SkippableFact]
    public async Task ASessionEndedElsewhereIsNotWrittenBackByATurnThatWasRunning()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);
        string session = (await a.Client.ChatAsync(TinyTurn(0, ""))).Started.SessionId;
        await a.Client.ChatAsync(TinyTurn(1, session));
        var record = await a.Core.Records.GetAsync(session, CancellationToken.None);
        Assert.NotNull(record);

        // B ends it; then A's turn, which was running, saves as it would after one more turn (the store held one turn
        // fewer): refused, and the session stays ended.
        await b.Client.EndSessionAsync(new PbV1.EndSessionRequest { SessionId = session }, deadline: Calls.Deadline());
        Assert.False(await a.Core.Records.SaveAsync(session, record.Model, record.SystemPrompt, record.Turns, 1, CancellationToken.None));
        Assert.False(await a.Core.Records.SaveAsync(session, record.Model, record.SystemPrompt, record.Turns, -1, CancellationToken.None));
        Assert.Equal(Inference.ISessionRecordStore.Ended, await b.Core.Records.TurnCountAsync(session, CancellationToken.None));
        // A new session may take the id of an ended one.
        Assert.True(await a.Core.Records.SaveAsync(session, record.Model, record.SystemPrompt, record.Turns.Take(1).ToList(), 0, CancellationToken.None));
        Assert.Equal(1, await b.Core.Records.TurnCountAsync(session, CancellationToken.None));
    }

    [Fact]
    public async Task TheClientSendsATurnAgainThatWasRefusedWhileAnotherHeldItsSessionsLease()
    {
        await using var host = await ServerHost.StartAsync();
        using var client = new RegionChat.Client.RegionChatClient(host.Address);
        var options = new RegionChat.Client.GenerationOptions { MaxTokens = 2 };
        var first = await client.ChatAsync(new RegionChat.Client.ChatTurn("what is this?")
            { Image = RegionChat.Client.ChatImage.FromBytes(First), Generation = options });
        // Another turn of the session holds its lease (taken through the store, as a running turn takes it) for a second.
        var lease = await host.Core.Records.TryLeaseAsync(first.SessionId, CancellationToken.None) ?? throw new InvalidOperationException("no lease");
        var release = Task.Delay(1000).ContinueWith(_ => lease.DisposeAsync().AsTask()).Unwrap();
        var next = await client.ChatAsync(new RegionChat.Client.ChatTurn("and now?") { SessionId = first.SessionId, Generation = options });
        await release;
        Assert.Equal(first.SessionId, next.SessionId);
        Assert.True(next.Started.CachedTokens > 0);
    }

    static async Task<IAsyncDisposable> WaitForLeaseAsync(ServerHost host, string session)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(50))
            if (await host.Core.Records.TryLeaseAsync(session, CancellationToken.None) is { } lease) return lease;
        throw new TimeoutException("the session's lease was never released");
    }

    [SkippableFact]
    public async Task WhenRedisRestartsEmptyLiveSessionsGoOnAndLostOnesAreNotFound()
    {
        await using var redis = await RedisServer.StartAsync();
        string[] reference;
        await using (var single = await ServerHost.StartAsync()) reference = await ReferenceAsync(single, TinyTurn, TinyTurns);
        await using var a = await StartOnRedisAsync(redis);
        await using var b = await StartOnRedisAsync(redis);

        var onA = await a.Client.ChatAsync(TinyTurn(0, ""));
        Assert.Equal(reference[0], onA.Text);
        string kept = onA.Started.SessionId;
        Assert.Equal(reference[1], (await a.Client.ChatAsync(TinyTurn(1, kept))).Text);
        string lost = (await b.Client.ChatAsync(TinyTurn(0, ""))).Started.SessionId;

        await redis.StopAsync(kill: true);
        await redis.StartAgainAsync();
        // Wait until A's client has reconnected (it retries by itself); no turn is needed for that.
        Assert.True(await EventuallyAsync(async () =>
        {
            try { return await a.Core.Records.TurnCountAsync(kept, CancellationToken.None) == -1; }
            catch (Inference.SessionStoreUnavailableException) { return false; }
        }), "the server did not reconnect to the restarted redis-server");

        // A still holds its session: it answers as before and writes the session to the store again...
        var t2 = await a.Client.ChatAsync(TinyTurn(2, kept));
        Assert.False(t2.Started.Restored);
        Assert.Equal(reference[2], t2.Text);
        // ...so B can take it over by replay, with the same answers.
        Assert.True(await EventuallyAsync(async () =>
        {
            try { return await b.Core.Records.TurnCountAsync(kept, CancellationToken.None) == 3; }
            catch (Inference.SessionStoreUnavailableException) { return false; }
        }), "the store was not refilled");
        var t3 = await b.Client.ChatAsync(TinyTurn(3, kept));
        Assert.True(t3.Started.Restored);
        Assert.Equal(reference[3], t3.Text);

        // B's other session was only in the store that was lost, and A never held it: NOT_FOUND, never a guess.
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(a.Client.Chat(TinyTurn(1, lost), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains(lost, e.Status.Detail);
    }

    static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(100))
            if (await condition()) return true;
        return false;
    }
}
