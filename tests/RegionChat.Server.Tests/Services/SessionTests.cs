using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Sessions: follow-ups reuse the KV cache, new images are injected mid-conversation, sessions end, expire or
/// are evicted, and a turn is never answered without its history.</summary>
public class SessionTests
{
    static readonly byte[] First = TestImages.Scene(21), Second = TestImages.Scene(22);

    [Fact]
    public async Task FollowUpsReportEarlierTokensAsCachedAndInjectNewImagesAndRegions()
    {
        await using var host = await ServerHost.StartAsync();
        var t1 = await host.Client.ChatAsync(Calls.Chat("what is this?", First, Calls.Box(0, 0, 32, 32)));
        Assert.Equal(0u, t1.Started.CachedTokens);
        Assert.Equal(16u, t1.Started.VisualTokens);
        string session = t1.Started.SessionId;
        Assert.StartsWith("s-", session);
        uint held = t1.Finished.Usage.PromptTokens + t1.Finished.Usage.CompletionTokens;

        // Text only: everything so far is cached; only the new turn's few tokens are prefilled.
        var t2 = await host.Client.ChatAsync(Calls.Chat("what color is it?", sessionId: session));
        Assert.Equal(session, t2.Started.SessionId);
        Assert.Equal(0u, t2.Started.VisualTokens);
        Assert.InRange(t2.Started.CachedTokens, t1.Started.PromptTokens, held);
        uint fresh2 = t2.Started.PromptTokens - t2.Started.CachedTokens;
        Assert.InRange(fresh2, 1u, 20u);
        Assert.Equal(t2.Started.CachedTokens, t2.Finished.Usage.CachedTokens);
        Assert.Equal(t2.Started.PromptTokens, t2.Finished.Usage.PromptTokens);

        // A new image and region in the same session: injected at this point, history still cached.
        var t3 = await host.Client.ChatAsync(Calls.Chat("and this one?", Second, Calls.Box(16, 16, 64, 64), sessionId: session));
        Assert.Equal(16u, t3.Started.VisualTokens);
        Assert.Equal(16u, t3.Finished.Usage.VisualTokens);
        Assert.True(t3.Started.CachedTokens >= t2.Started.PromptTokens, $"cached {t3.Started.CachedTokens} < previous prompt {t2.Started.PromptTokens}");
        uint fresh3 = t3.Started.PromptTokens - t3.Started.CachedTokens;
        Assert.InRange(fresh3, 17u, 40u); // the 16 visual tokens plus the turn's text

        // A region alone refers to the session's latest image (the second one): a new region of it is encoded.
        var t4 = await host.Client.ChatAsync(Calls.Chat("and here?", region: Calls.Box(0, 32, 32, 64), sessionId: session));
        Assert.Equal(16u, t4.Started.VisualTokens);
        Assert.False(t4.Finished.Timings.VisualCacheHit);
        Assert.True(t4.Started.CachedTokens >= t3.Started.PromptTokens);
        // Same region of the second image asked directly: the visual tokens are the ones t4 cached.
        var direct = await host.Client.ChatAsync(Calls.Chat("and here?", Second, Calls.Box(0, 32, 32, 64)));
        Assert.True(direct.Finished.Timings.VisualCacheHit, "the region-only turn did not use the session's latest image");

        // The whole conversation is one sequence: the engine holds exactly the two sessions.
        Assert.Equal(2, host.Model.Llm.Statistics.SequencesHeld);
    }

    [Fact]
    public async Task EndSessionFreesItAndLaterTurnsAreNotFound()
    {
        await using var host = await ServerHost.StartAsync();
        var t1 = await host.Client.ChatAsync(Calls.Chat("hi", First));
        string session = t1.Started.SessionId;
        Assert.Equal(1, host.Model.Llm.Statistics.SequencesHeld);

        await host.Client.EndSessionAsync(new PbV1.EndSessionRequest { SessionId = session }, deadline: Calls.Deadline());
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics is { SequencesHeld: 0, UsedCells: 0 }), "the KV cache was not freed");

        var again = await Calls.FailsAsync(() => host.Client.EndSessionAsync(new() { SessionId = session }, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        var turn = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("still there?", sessionId: session), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, turn.StatusCode);
        Assert.Contains(session, turn.Status.Detail);
    }

    [Fact]
    public async Task IdleSessionsExpireAndAreNotFoundWithAClearMessage()
    {
        await using var host = await ServerHost.StartAsync(("SessionIdleSeconds", "1"));
        var t1 = await host.Client.ChatAsync(Calls.Chat("hi", First));
        Assert.Equal(1, host.Sessions.Count);
        Assert.True(await Calls.EventuallyAsync(() => host.Sessions.Count == 0, TimeSpan.FromSeconds(10)), "the idle session did not expire");
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics is { SequencesHeld: 0, UsedCells: 0 }), "the expired session's KV cache was not freed");

        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("remember me?", sessionId: t1.Started.SessionId), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains(t1.Started.SessionId, e.Status.Detail);
        Assert.Contains("expired", e.Status.Detail);
        Calls.AssertCleanMessage(e.Status.Detail);
    }

    [Fact]
    public async Task ASessionInUseDoesNotExpire()
    {
        await using var host = await ServerHost.StartAsync(("SessionIdleSeconds", "1"));
        var t1 = await host.Client.ChatAsync(Calls.Chat("hi", First));
        // Turns every half second keep it alive well past the idle time.
        for (int i = 0; i < 4; i++)
        {
            await Task.Delay(500);
            var t = await host.Client.ChatAsync(Calls.Chat("more", sessionId: t1.Started.SessionId, maxTokens: 2));
            Assert.True(t.Started.CachedTokens > 0);
        }
    }

    [Fact]
    public async Task AFollowUpThatOverflowsTheContextIsRefusedAndTheSessionGoesOn()
    {
        await using var host = await ServerHost.StartAsync(("ContextSize", "256"));
        var t1 = await host.Client.ChatAsync(Calls.Chat("what is this?", First));
        string session = t1.Started.SessionId;
        var tooLong = Calls.Chat(string.Join(" ", Enumerable.Repeat("blue", 250)), sessionId: session);
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(tooLong, deadline: Calls.Deadline())));
        // The session's history is in the way (issue 12): refused as a state, naming the room left and the way out.
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("context", e.Status.Detail);
        Assert.Contains("room for", e.Status.Detail);
        Assert.Contains("start a new one", e.Status.Detail);

        var t2 = await host.Client.ChatAsync(Calls.Chat("and the colour?", sessionId: session));
        Assert.True(t2.Started.CachedTokens >= t1.Started.PromptTokens, "the refused turn cost the session its history");
    }

    [Fact]
    public async Task AnEvictedSessionIsRestoredFromItsRecordRatherThanAnsweredWithoutItsHistory()
    {
        // One sequence: a second conversation must evict the first, idle one. Its next turn replays its record (issue
        // 16.4: it used to be NOT_FOUND); SessionRestoreTests checks the answers are the same as without the eviction.
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"));
        var a = await host.Client.ChatAsync(Calls.Chat("first conversation", First));
        var b = await host.Client.ChatAsync(Calls.Chat("second conversation", Second));
        Assert.Equal(1, host.Model.Llm.Statistics.SequencesHeld);
        Assert.True(host.Model.Llm.Statistics.Evictions >= 1);

        var a2 = await host.Client.ChatAsync(Calls.Chat("and then?", sessionId: a.Started.SessionId));
        Assert.True(a2.Started.Restored);
        Assert.Equal(0u, a2.Started.CachedTokens);
        Assert.True(a2.Started.RestoredTokens >= a.Finished.Usage.PromptTokens, "the replay did not hold the first turn");

        var b2 = await host.Client.ChatAsync(Calls.Chat("and then?", sessionId: b.Started.SessionId));
        Assert.True(b2.Started.Restored);
    }
}
