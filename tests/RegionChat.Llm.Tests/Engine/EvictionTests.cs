using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>When the KV cache is full, idle sessions are evicted least recently used first, and say so.</summary>
public class EvictionTests(TinyModels models) : IClassFixture<TinyModels>
{
    static readonly SamplingParams Greedy = SamplingParams.Greedy(4) with { IgnoreEos = true };

    static Task<Collected> Run(LlmEngine engine, LlmSession s, int rows, int seed) =>
        Collected.From(engine.GenerateAsync(s, [PromptSegment.Embeddings(Blocks.Random(rows, seed))], Greedy));

    [Fact]
    public async Task TheLeastRecentlyUsedIdleSessionIsEvictedWhenCellsRunOut()
    {
        using var engine = models.Load(contextSize: 256);
        int n = engine.Facts.ContextSize;
        var evicted = new List<long>();
        engine.SessionEvicted += (_, s) => { lock (evicted) evicted.Add(s.Id); };
        using var a = engine.CreateSession();
        using var b = engine.CreateSession();
        using var c = engine.CreateSession();
        int rows = n * 3 / 10;                                   // three of these plus their answers overflow the cache

        await Run(engine, a, rows, 1);
        var bFirst = await Run(engine, b, rows, 2);
        await Run(engine, a, 4, 3);                              // a is now the most recently used
        Assert.Equal(0, engine.Statistics.Evictions);
        await Run(engine, c, rows + 20, 4);                      // needs more than is free: b must go

        Assert.Equal(1, engine.Statistics.Evictions);
        Assert.Equal(LlmSessionState.Evicted, b.State);
        Assert.Equal(0, b.CachedTokens);
        Assert.Equal(LlmSessionState.Holding, a.State);
        Assert.Equal(LlmSessionState.Holding, c.State);
        await WaitFor(() => { lock (evicted) return evicted.Count == 1; });
        Assert.Equal([b.Id], evicted);

        // b fails clearly instead of answering without its history; a goes on with its cache.
        var e = await Assert.ThrowsAsync<SequenceEvictedException>(() => Run(engine, b, 4, 5));
        Assert.Equal(b.Id, e.SessionId);
        int aCached = a.CachedTokens;
        var aNext = await Run(engine, a, 4, 6);
        Assert.Equal(aCached, aNext.Final.Usage.CachedTokens);

        // Reset acknowledges the eviction: b starts over.
        b.Reset();
        var bAgain = await Run(engine, b, 8, 7);
        Assert.Equal(0, bAgain.Final.Usage.CachedTokens);
        Assert.NotEqual(0, bFirst.Final.Usage.SequenceTokens);
    }

    [Fact]
    public async Task TheLeastRecentlyUsedIdleSessionIsEvictedWhenSequenceIdsRunOut()
    {
        using var engine = models.Load(maxSequences: 2);
        using var a = engine.CreateSession();
        using var b = engine.CreateSession();
        using var c = engine.CreateSession();
        await Run(engine, a, 8, 1);
        await Run(engine, b, 8, 2);
        await Run(engine, c, 8, 3);
        Assert.Equal(LlmSessionState.Evicted, a.State);
        Assert.Equal(LlmSessionState.Holding, b.State);
        Assert.Equal(2, engine.Statistics.SequencesHeld);
        await Assert.ThrowsAsync<SequenceEvictedException>(() => Run(engine, a, 4, 4));
    }

    [Fact]
    public async Task AnEvictedChatFailsOnItsNextTurn()
    {
        using var engine = models.Load(maxSequences: 1);
        var template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        using var first = new ChatSession(engine, template);
        using var second = new ChatSession(engine, template);
        await Collected.From(first.GenerateAsync(ChatMessage.User("the cat"), Greedy));
        await Collected.From(second.GenerateAsync(ChatMessage.User("the dog"), Greedy));
        Assert.Throws<SequenceEvictedException>(() => first.GenerateAsync(ChatMessage.User("and now"), Greedy));
    }

    [Fact]
    public async Task ARequestWaitsWhileRunningSequencesHoldTheCells()
    {
        using var engine = models.Load(contextSize: 256, maxSequences: 2);
        int n = engine.Facts.ContextSize;
        using var a = engine.CreateSession(keepHistory: false);
        using var b = engine.CreateSession(keepHistory: false);
        var slow = SamplingParams.Greedy(30) with { IgnoreEos = true };
        // Both need more than half the cells: b must wait for a rather than fail or evict a running sequence.
        var ra = Collected.From(engine.GenerateAsync(a, [PromptSegment.Embeddings(Blocks.Random(n / 2, 1))], slow));
        var rb = Collected.From(engine.GenerateAsync(b, [PromptSegment.Embeddings(Blocks.Random(n / 2, 2))], slow));
        var results = await Task.WhenAll(ra, rb);
        Assert.All(results, r => Assert.Equal(30, r.Final.Usage.CompletionTokens));
        Assert.Equal(0, engine.Statistics.Evictions);
        Assert.True(results.Max(r => r.Final.Timings.QueueMs) > results.Min(r => r.Final.Timings.PrefillMs));
    }

    [Fact]
    public async Task OneShotRequestsWaitForTheirShareInsteadOfEvictingAConversation()
    {
        using var engine = models.Load(maxSequences: 3, oneShotSequences: 1);   // conversations hold at most 2
        using var a = engine.CreateSession();
        using var b = engine.CreateSession();
        await Run(engine, a, 8, 1);
        await Run(engine, b, 8, 2);

        // A long one-shot takes the third sequence (each step slowed, so it runs for seconds); a second one-shot then
        // waits for it rather than evict a or b.
        engine.Scheduler.StepObserver = _ => Thread.Sleep(5);
        var x = engine.CreateSession(oneShot: true);
        using var stopX = new CancellationTokenSource();
        var running = Collected.From(engine.GenerateAsync(x, [PromptSegment.Embeddings(Blocks.Random(8, 3))],
            SamplingParams.Greedy(800) with { IgnoreEos = true }, stopX.Token));
        await WaitFor(() => x.State == LlmSessionState.Holding && x.IsBusy);
        var y = engine.CreateSession(oneShot: true);
        var waiting = Run(engine, y, 8, 4);
        await WaitFor(() => engine.Statistics.QueuedRequests == 1);
        Assert.Equal(0, engine.Statistics.Evictions);
        Assert.False(waiting.IsCompleted);
        // A conversation's follow-up (its session holds a sequence) goes ahead of the waiting one-shot.
        await Run(engine, a, 4, 6);
        Assert.False(running.IsCompleted, "the follow-up waited for the running one-shot to end");
        Assert.False(waiting.IsCompleted);
        engine.Scheduler.StepObserver = null;
        stopX.Cancel();
        try { await running; }
        catch (OperationCanceledException) { } // ended either way
        x.Dispose();
        await waiting;
        y.Dispose();
        Assert.Equal(0, engine.Statistics.Evictions);
        Assert.Equal(LlmSessionState.Holding, a.State);
        Assert.Equal(LlmSessionState.Holding, b.State);

        // A third conversation evicts the least recently used one (b: a had the follow-up) although a sequence is free:
        // that one stays the one-shots'.
        using var c = engine.CreateSession();
        await Run(engine, c, 8, 5);
        Assert.Equal(LlmSessionState.Evicted, b.State);
        Assert.Equal(LlmSessionState.Holding, a.State);
        await WaitFor(() => engine.Statistics.SequencesHeld == 2);
    }

    static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.True(condition());
    }
}
