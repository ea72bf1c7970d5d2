using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>One context serves many sequences at once; batching must not mix them up.</summary>
public class ConcurrencyTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task EightConcurrentSequencesWithDifferentImagesAnswerAsWhenRunAlone()
    {
        using var engine = models.Load(contextSize: 2048, batchSize: 32, maxSequences: 8);
        var chat = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        var greedy = SamplingParams.Greedy(16) with { IgnoreEos = true };
        IReadOnlyList<PromptSegment> Prompt(int i) =>
            chat.Render(null, [ChatMessage.User("what is in the picture", Blocks.Random(24 + i, seed: 100 + i))]);

        var alone = new List<IReadOnlyList<int>>();
        for (int i = 0; i < 8; i++)
        {
            using var s = engine.CreateSession(keepHistory: false);
            alone.Add((await Collected.From(engine.GenerateAsync(s, Prompt(i), greedy))).Final.OutputTokens);
        }
        Assert.True(alone.Select(t => string.Join(",", t)).Distinct().Count() >= 4, "different images should give different answers");

        int widest = 0;
        engine.Scheduler.StepObserver = step => widest = Math.Max(widest, step.DecodedSequences);
        var together = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            await Task.Yield();
            using var s = engine.CreateSession(keepHistory: false);
            return (await Collected.From(engine.GenerateAsync(s, Prompt(i), greedy))).Final;
        }));
        Assert.True(widest >= 4, $"decode steps should batch several sequences (widest step: {widest})");
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(alone[i], together[i].OutputTokens);
            Assert.Equal(16, together[i].Usage.CompletionTokens);
        }
        Assert.Equal(0, engine.Statistics.UsedCells);
        Assert.Equal(0, engine.Statistics.SequencesHeld);
    }

    [Fact]
    public async Task ASessionTakesOneGenerationAtATime()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession();
        var greedy = SamplingParams.Greedy(200) with { IgnoreEos = true };
        var first = engine.GenerateAsync(session, [PromptSegment.Text("the cat")], greedy).GetAsyncEnumerator();
        // The first MoveNext submits synchronously; the second comes at once, not after an event: the tiny model can
        // produce all its tokens into the event channel (and leave the session free) before a reader gets the first.
        var firstEvent = first.MoveNextAsync();
        var second = engine.GenerateAsync(session, [PromptSegment.Text("the dog")], greedy).GetAsyncEnumerator();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await second.MoveNextAsync());
        Assert.True(await firstEvent);
        await first.DisposeAsync();
    }

    [Fact]
    public async Task AChatTakesOneTurnAtATimeAndRefusesStaleTurns()
    {
        using var engine = models.Load();
        using var chat = new ChatSession(engine, ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts));
        var greedy = SamplingParams.Greedy(50) with { IgnoreEos = true };
        var first = chat.GenerateAsync(ChatMessage.User("the cat"), greedy).GetAsyncEnumerator();
        var early = chat.GenerateAsync(ChatMessage.User("the dog"), greedy);   // prepared against the empty history
        Assert.True(await first.MoveNextAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await early.GetAsyncEnumerator().MoveNextAsync());
        while (await first.MoveNextAsync()) { }
        await first.DisposeAsync();
        Assert.Equal(2, chat.History.Count);
        // Now free, but the conversation moved on since it was prepared.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await early.GetAsyncEnumerator().MoveNextAsync());
    }

    [Fact]
    public void ASessionOfAnotherEngineIsRefused()
    {
        using var one = models.Load();
        using var two = models.Load();
        using var session = one.CreateSession();
        var e = Assert.Throws<ArgumentException>(() => two.GenerateAsync(session, [PromptSegment.Text("the cat")], SamplingParams.Greedy()));
        Assert.Equal("session", e.ParamName);
    }
}
