using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>The text before a prompt's first image is prefilled once and shared by later fresh sequences.</summary>
public class SharedPrefixTests(TinyModels models) : IClassFixture<TinyModels>
{
    static readonly SamplingParams Greedy = SamplingParams.Greedy(8) with { IgnoreEos = true };

    static IReadOnlyList<PromptSegment> Prompt(string system, int seed) =>
        [PromptSegment.Tokens(1), PromptSegment.Text(system + " USER:"), PromptSegment.Embeddings(Blocks.Random(12, seed)),
         PromptSegment.Text("what is it ASSISTANT:")];

    int PrefixLength(LlmEngine engine, string system) => 1 + engine.Tokenize(system + " USER:").Length;

    static async Task<GenerationFinished> Run(LlmEngine engine, IReadOnlyList<PromptSegment> prompt, bool keep = false)
    {
        using var s = engine.CreateSession(keepHistory: keep);
        return (await Collected.From(engine.GenerateAsync(s, prompt, Greedy))).Final;
    }

    [Fact]
    public async Task ALaterFreshPromptTakesThePrefixAndAnswersAsWhenItPrefilledIt()
    {
        using var engine = models.Load();
        using var unshared = models.Load(batchSize: 8, maxSequences: 8);    // as many sequences as batch rows: no holder
        const string system = "a chat between a curious human and a helpful assistant about the picture";
        int p = PrefixLength(engine, system);

        var first = await Run(engine, Prompt(system, 3));
        Assert.Equal(first.Usage.NewPromptTokens, first.Usage.PrefilledTokens);
        Assert.Equal(p, engine.Statistics.SharedPrefixCells);
        Assert.Equal(0, engine.Statistics.SharedPrefixHits);

        var second = await Run(engine, Prompt(system, 4));
        Assert.Equal(1, engine.Statistics.SharedPrefixHits);
        Assert.Equal(second.Usage.NewPromptTokens - p, second.Usage.PrefilledTokens);
        Assert.Equal(0, second.Usage.CachedTokens);
        var alone = await Run(unshared, Prompt(system, 4));
        Assert.Equal(0, unshared.Statistics.SharedPrefixCells);
        Assert.Equal(alone.Usage.PrefilledTokens, second.Usage.PromptTokens);
        Assert.Equal(alone.OutputTokens, second.OutputTokens);

        // The logits themselves: taken from the holder's cells or prefilled, the same numbers.
        var shared = await engine.ComputeLogitsAsync(Prompt(system, 5));
        var computed = await unshared.ComputeLogitsAsync(Prompt(system, 5));
        Assert.Equal(2, engine.Statistics.SharedPrefixHits);
        Assert.True(shared.Zip(computed).Max(x => Math.Abs(x.First - x.Second)) < 1e-4f);

        // Sessions own no cell of the prefix: once they are gone only the holder's remain.
        Assert.Equal(0, engine.Statistics.UsedCells);
        Assert.Equal(0, engine.Statistics.SequencesHeld);
        Assert.Equal(p, engine.Statistics.SharedPrefixCells);
    }

    [Fact]
    public async Task AnotherSystemPromptTakesTheHolderOnlyWhenNobodySharesIt()
    {
        using var engine = models.Load();
        int p1 = PrefixLength(engine, "the first system prompt"), p2 = PrefixLength(engine, "another system prompt altogether here");
        Assert.NotEqual(p1, p2);

        // A kept conversation shares the first prefix (it wrote it), so the second cannot take the holder.
        using var kept = engine.CreateSession(keepHistory: true);
        await Collected.From(engine.GenerateAsync(kept, Prompt("the first system prompt", 1), Greedy));
        var other = await Run(engine, Prompt("another system prompt altogether here", 2));
        Assert.Equal(other.Usage.NewPromptTokens, other.Usage.PrefilledTokens);
        Assert.Equal(p1, engine.Statistics.SharedPrefixCells);
        Assert.Equal(0, engine.Statistics.SharedPrefixHits);
        await Run(engine, Prompt("the first system prompt", 3));
        Assert.Equal(1, engine.Statistics.SharedPrefixHits);

        // Once the conversation is gone the next prompt with another prefix writes its own.
        kept.Dispose();
        Assert.True(await Eventually(() => engine.Statistics.SequencesHeld == 0));
        await Run(engine, Prompt("another system prompt altogether here", 4));
        Assert.Equal(p2, engine.Statistics.SharedPrefixCells);
        var again = await Run(engine, Prompt("another system prompt altogether here", 5));
        Assert.Equal(2, engine.Statistics.SharedPrefixHits);
        Assert.Equal(again.Usage.NewPromptTokens - p2, again.Usage.PrefilledTokens);
    }

    [Fact]
    public async Task TheHolderGivesItsCellsToARequestThatNeedsThem()
    {
        using var engine = models.Load(contextSize: 256, batchSize: 64, maxSequences: 4);
        await Run(engine, Prompt("a system prompt of a few words", 1));
        int p = engine.Statistics.SharedPrefixCells;
        Assert.True(p > 4);

        // A text-only prompt (nothing to share) whose answer needs every cell but a few.
        int promptLength = 1 + engine.Tokenize("tell me a long story").Length;
        var sampling = SamplingParams.Greedy(256 - promptLength - 2) with { IgnoreEos = true };
        using var s = engine.CreateSession(keepHistory: false);
        var story = await Collected.From(engine.GenerateAsync(s, [PromptSegment.Tokens(1), PromptSegment.Text("tell me a long story")], sampling));
        Assert.Equal(FinishReason.Length, story.Final.Reason);
        Assert.Equal(0, engine.Statistics.SharedPrefixCells);
    }

    static async Task<bool> Eventually(Func<bool> condition)
    {
        for (int i = 0; i < 200 && !condition(); i++) await Task.Delay(10);
        return condition();
    }
}
