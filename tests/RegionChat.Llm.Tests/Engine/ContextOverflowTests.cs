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
    public async Task RunningOutOfContextWhileGeneratingIsAClearError()
    {
        using var engine = models.Load(contextSize: 256);
        int n = engine.Facts.ContextSize;
        using var session = engine.CreateSession();
        var pieces = new List<string>();
        var e = await Assert.ThrowsAsync<ContextOverflowException>(async () =>
        {
            await foreach (var ev in engine.GenerateAsync(session, [PromptSegment.Embeddings(Blocks.Random(n - 6, 4))],
                               SamplingParams.Greedy(50) with { IgnoreEos = true }))
                if (ev is TextPiece p) pieces.Add(p.Text);
        });
        Assert.Contains("end of the context", e.Message);
        Assert.Equal(n, e.Available);
        Assert.NotEmpty(pieces);                    // it generated until the last cell, then said so
        Assert.Equal(LlmSessionState.Fresh, session.State);
        Assert.Equal(0, engine.Statistics.UsedCells);
        Assert.Equal(0, engine.Statistics.ReservedCells);
    }
}
