using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

public class ContextOverflowTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task APromptLongerThanTheContextFailsBeforeAnyPrefill()
    {
        using var engine = models.Load(contextSize: 256);
        int n = engine.Facts.ContextSize;
        using var session = engine.CreateSession();
        var prompt = new[] { PromptSegment.Embeddings(Blocks.Random(n + 1, seed: 3)) };
        var e = await Assert.ThrowsAsync<ContextOverflowException>(() => Collected.From(
            engine.GenerateAsync(session, prompt, SamplingParams.Greedy(4))));
        Assert.Equal(n + 1, e.Needed);
        Assert.Equal(n, e.Available);
        Assert.Contains($"{n + 1}", e.Message);
        Assert.Equal(0, engine.Statistics.Steps);
        Assert.False(session.IsBusy);

        // The session stays usable.
        var ok = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the cat")], SamplingParams.Greedy(2)));
        Assert.NotEqual(FinishReason.Cancelled, ok.Final.Reason);
    }

    [Fact]
    public async Task AFollowUpThatNoLongerFitsFailsAndKeepsTheHistory()
    {
        using var engine = models.Load(contextSize: 256);
        int n = engine.Facts.ContextSize;
        using var session = engine.CreateSession(keepHistory: true);
        var first = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(n - 40, 1))],
            SamplingParams.Greedy(4) with { IgnoreEos = true }));
        int held = first.Final.Usage.SequenceTokens;
        var e = await Assert.ThrowsAsync<ContextOverflowException>(() => Collected.From(
            engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(50, 2))], SamplingParams.Greedy(4))));
        Assert.Equal(n, e.Available);
        Assert.Equal(held + 1 + 50, e.Needed);      // cached + the previous answer's undecoded last token + new rows
        Assert.Equal(LlmSessionState.Holding, session.State);
        Assert.Equal(held, session.CachedTokens);
    }

    [Fact]
    public async Task AnAnswerThatReachesTheEndOfTheContextEndsWithLength()
    {
        using var engine = models.Load(contextSize: 256);
        int n = engine.Facts.ContextSize;
        using var session = engine.CreateSession();
        var answer = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(n - 6, 4))],
            SamplingParams.Greedy(50) with { IgnoreEos = true }));
        Assert.Equal(FinishReason.Length, answer.Final.Reason);
        // Positions n-6..n-1 take the first six sampled tokens; the seventh is sampled from the last position's logits.
        Assert.Equal(7, answer.Final.Usage.CompletionTokens);
        Assert.Equal(0, engine.Statistics.ReservedCells);
    }

    [Fact]
    public async Task ASequenceNeverGrowsPastTheTrainedContext()
    {
        // The tiny GGUF says llama.context_length 512; the context has 1024 cells for all sequences.
        using var engine = models.Load(contextSize: 1024);
        Assert.Equal(512, engine.Facts.TrainContextLength);
        Assert.Equal(512, engine.Facts.SequenceLimit);
        using var session = engine.CreateSession(keepHistory: true);
        var e = await Assert.ThrowsAsync<ContextOverflowException>(() => Collected.From(
            engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(513, 5))], SamplingParams.Greedy(2))));
        Assert.Equal(ContextOverflowKind.Prompt, e.Kind);
        Assert.Equal(512, e.Available);
        Assert.Equal(513, e.Needed);
        Assert.Equal(0, e.CachedTokens);
        Assert.Equal(0, engine.Statistics.Steps);

        // A session filled to the limit by its turns: the answer ends there, and the next turn is refused with its history kept.
        var first = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(500, 6))],
            SamplingParams.Greedy(100) with { IgnoreEos = true }));
        Assert.Equal(FinishReason.Length, first.Final.Reason);
        Assert.Equal(13, first.Final.Usage.CompletionTokens);
        Assert.Equal(512, session.CachedTokens);
        var full = await Assert.ThrowsAsync<ContextOverflowException>(() => Collected.From(
            engine.GenerateAsync(session, [PromptSegment.Text("the cat")], SamplingParams.Greedy(2))));
        Assert.Equal(ContextOverflowKind.Prompt, full.Kind);
        Assert.Equal(513, full.CachedTokens);          // 512 in the cache + the last answer's undecoded token
        Assert.Equal(512, session.CachedTokens);
    }

    [Fact]
    public async Task RequestedMaxTokensThatDoNotFitAreRefusedBeforeAnyPrefill()
    {
        using var engine = models.Load(contextSize: 256);
        using var session = engine.CreateSession();
        using var second = engine.CreateSession();
        using var third = engine.CreateSession();
        var prompt = new[] { PromptSegment.Embeddings(Blocks.Random(200, 7)) };
        var e = await Assert.ThrowsAsync<ContextOverflowException>(() => Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(58) with { MaxTokensRequested = true })));
        Assert.Equal(ContextOverflowKind.MaxTokens, e.Kind);
        Assert.Contains("leaves room for 57 tokens", e.Message);
        Assert.Equal(0, engine.Statistics.Steps);

        // 57 fit; the same 58 as a default are cut at the end of the context instead.
        var fits = await Collected.From(engine.GenerateAsync(second, prompt,
            SamplingParams.Greedy(57) with { MaxTokensRequested = true, IgnoreEos = true }));
        Assert.Equal(57, fits.Final.Usage.CompletionTokens);
        var cut = await Collected.From(engine.GenerateAsync(third, prompt, SamplingParams.Greedy(58) with { IgnoreEos = true }));
        Assert.Equal(FinishReason.Length, cut.Final.Reason);
        Assert.Equal(57, cut.Final.Usage.CompletionTokens);
    }
}
