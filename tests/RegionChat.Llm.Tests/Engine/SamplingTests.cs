using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Tests.Engine;

public class SamplingTests(TinyModels models) : IClassFixture<TinyModels>
{
    public static TheoryData<string, SamplingParams> BadParameters => new()
    {
        { nameof(SamplingParams.Temperature), new() { Temperature = float.NaN } },
        { nameof(SamplingParams.Temperature), new() { Temperature = -0.1f } },
        { nameof(SamplingParams.Temperature), new() { Temperature = float.PositiveInfinity } },
        { nameof(SamplingParams.TopK), new() { TopK = -1 } },
        { nameof(SamplingParams.TopP), new() { TopP = 0 } },
        { nameof(SamplingParams.TopP), new() { TopP = 1.5f } },
        { nameof(SamplingParams.TopP), new() { TopP = float.NaN } },
        { nameof(SamplingParams.MinP), new() { MinP = -0.01f } },
        { nameof(SamplingParams.MinP), new() { MinP = 2 } },
        { nameof(SamplingParams.RepeatPenalty), new() { RepeatPenalty = 0 } },
        { nameof(SamplingParams.RepeatPenalty), new() { RepeatPenalty = float.NaN } },
        { nameof(SamplingParams.RepeatLastN), new() { RepeatLastN = -1 } },
        { nameof(SamplingParams.FrequencyPenalty), new() { FrequencyPenalty = 2.5f } },
        { nameof(SamplingParams.PresencePenalty), new() { PresencePenalty = float.NaN } },
        { nameof(SamplingParams.MaxTokens), new() { MaxTokens = 0 } },
        { nameof(SamplingParams.MaxTokens), new() { MaxTokens = -5 } },
        { nameof(SamplingParams.Stop), new() { Stop = [""] } },
        { nameof(SamplingParams.Stop), new() { Stop = [new string('x', 257)] } },
        { nameof(SamplingParams.Stop), new() { Stop = Enumerable.Repeat("x", 17).ToArray() } },
        { nameof(SamplingParams.LogitBias), new() { LogitBias = new Dictionary<int, float> { [3] = 100.5f } } },
        { nameof(SamplingParams.LogitBias), new() { LogitBias = new Dictionary<int, float> { [3] = float.NaN } } },
        { nameof(SamplingParams.LogitBias), new() { LogitBias = new Dictionary<int, float> { [-1] = 1 } } },
        { nameof(SamplingParams.LogitBias), new() { LogitBias = Enumerable.Range(0, 1025).ToDictionary(i => i, _ => 1f) } },
    };

    [Theory]
    [MemberData(nameof(BadParameters))]
    public void BadSamplingParametersAreRejectedNamingTheParameter(string name, SamplingParams bad)
    {
        Assert.Equal(name, Assert.ThrowsAny<ArgumentException>(bad.Validate).ParamName);
    }

    [Fact]
    public void BadRequestsAreRejectedWhenMadeNotWhenRun()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession();
        var e = Assert.ThrowsAny<ArgumentException>(() =>
            engine.GenerateAsync(session, [PromptSegment.Text("the cat")], new SamplingParams { TopP = float.NaN }));
        Assert.Equal(nameof(SamplingParams.TopP), e.ParamName);
        Assert.Throws<ArgumentException>(() => engine.GenerateAsync(session, [], SamplingParams.Greedy()));
        Assert.Throws<ArgumentException>(() => engine.GenerateAsync(session, [PromptSegment.Text("")], SamplingParams.Greedy()));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            engine.GenerateAsync(session, [PromptSegment.Tokens(engine.Facts.VocabSize)], SamplingParams.Greedy()));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.GenerateAsync(session, [PromptSegment.Tokens(-1)], SamplingParams.Greedy()));
        var outside = Assert.ThrowsAny<ArgumentException>(() => engine.GenerateAsync(session, [PromptSegment.Text("the cat")],
            SamplingParams.Greedy() with { LogitBias = new Dictionary<int, float> { [1] = 1, [engine.Facts.VocabSize] = -100 } }));
        Assert.Equal(nameof(SamplingParams.LogitBias), outside.ParamName);
        Assert.Contains($"token {engine.Facts.VocabSize} is outside", outside.Message);
    }

    [Fact]
    public async Task ALogitBiasBansOrForcesTokensOfTheModelsOwnAnswer()
    {
        using var engine = models.Load();
        var prompt = new[] { PromptSegment.Tokens(engine.Facts.BosToken!.Value), PromptSegment.Text("the red chair") };
        async Task<IReadOnlyList<int>> Answer(Dictionary<int, float>? bias)
        {
            using var session = engine.CreateSession(keepHistory: false);
            var run = await Collected.From(engine.GenerateAsync(session, prompt,
                SamplingParams.Greedy(6) with { IgnoreEos = true, LogitBias = bias }));
            return run.Final.OutputTokens;
        }
        var own = await Answer(null);
        var banned = await Answer(new Dictionary<int, float> { [own[0]] = -100 });
        Assert.NotEqual(own[0], banned[0]);
        Assert.DoesNotContain(own[0], banned);
        int forced = (own[0] + 7) % engine.Facts.VocabSize;
        Assert.All(await Answer(new Dictionary<int, float> { [forced] = 100 }), t => Assert.Equal(forced, t));
        Assert.Equal(own, await Answer(new Dictionary<int, float> { [forced] = 0 }));
        // A bias the size of the gap between the best two logits decides between them, as added to the logits.
        var logits = await engine.ComputeLogitsAsync(prompt);
        int second = Enumerable.Range(0, logits.Length).Where(t => t != own[0]).MaxBy(t => logits[t]);
        float gap = logits[own[0]] - logits[second];
        Assert.Equal(second, (await Answer(new Dictionary<int, float> { [second] = gap + 1e-3f }))[0]);
        Assert.Equal(own[0], (await Answer(new Dictionary<int, float> { [second] = gap - 1e-3f }))[0]);
    }

    [Fact]
    public async Task GreedyIsTheExactArgmaxOfTheModelsLogits()
    {
        using var engine = models.Load();
        var prompt = new[] { PromptSegment.Tokens(engine.Facts.BosToken!.Value), PromptSegment.Text("the red chair") };
        var logits = await engine.ComputeLogitsAsync(prompt);
        int argmax = Array.IndexOf(logits, logits.Max());
        using var session = engine.CreateSession(keepHistory: false);
        var run = await Collected.From(engine.GenerateAsync(session, prompt, SamplingParams.Greedy(1) with { IgnoreEos = true }));
        Assert.Equal([argmax], run.Final.OutputTokens);
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameSampledAnswer()
    {
        using var engine = models.Load();
        var prompt = new[] { PromptSegment.Text("the big tree") };
        var p = new SamplingParams { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 42, MaxTokens = 12, IgnoreEos = true };
        async Task<int[]> Once(SamplingParams sp)
        {
            using var s = engine.CreateSession(keepHistory: false);
            return (await Collected.From(engine.GenerateAsync(s, prompt, sp))).Final.OutputTokens.ToArray();
        }
        var a = await Once(p);
        Assert.Equal(a, await Once(p));
        var others = new[] { await Once(p with { Seed = 1 }), await Once(p with { Seed = 2 }), await Once(p with { Seed = 3 }) };
        Assert.Contains(others, o => !o.SequenceEqual(a));
    }

    static float[] Logits(params double[] probs) => probs.Select(p => (float)Math.Log(p)).ToArray();

    static double[] Frequencies(SamplingParams p, float[] logits, int draws = 20000)
    {
        var sampler = new TokenSampler(p with { Seed = 7 });
        var counts = new double[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;
        return counts.Select(c => c / draws).ToArray();
    }

    static readonly SamplingParams Plain = new() { Temperature = 1, TopK = 0, TopP = 1, MinP = 0 };

    [Fact]
    public void DrawsFollowTheSoftmaxAtTemperatureOne()
    {
        var f = Frequencies(Plain, Logits(0.5, 0.3, 0.15, 0.05));
        Assert.Equal(0.5, f[0], 0.02);
        Assert.Equal(0.3, f[1], 0.02);
        Assert.Equal(0.15, f[2], 0.02);
        Assert.Equal(0.05, f[3], 0.02);
    }

    [Fact]
    public void TopKTopPMinPAndTemperatureShapeTheDraw()
    {
        var logits = Logits(0.5, 0.3, 0.15, 0.05);
        Assert.Equal([1.0, 0, 0, 0], Frequencies(Plain with { TopK = 1 }, logits));
        var topK2 = Frequencies(Plain with { TopK = 2 }, logits);
        Assert.Equal(0.5 / 0.8, topK2[0], 0.02);
        Assert.Equal(0, topK2[2] + topK2[3]);
        var topP = Frequencies(Plain with { TopP = 0.6f }, logits);            // 0.5 < 0.6 ≤ 0.8: two tokens
        Assert.Equal(0, topP[2] + topP[3]);
        Assert.True(topP[1] > 0.3);
        var minP = Frequencies(Plain with { MinP = 0.25f }, logits);           // keeps p ≥ 0.125
        Assert.Equal(0, minP[3]);
        Assert.True(minP[2] > 0.1);
        var cold = Frequencies(Plain with { Temperature = 0.25f }, logits);    // p^4: 0.0625 vs 0.0081…
        Assert.True(cold[0] > 0.85);
        var hot = Frequencies(Plain with { Temperature = 4f }, logits);
        Assert.True(hot[3] > 0.15);
    }

    [Fact]
    public void RepeatPenaltyTurnsGreedyAwayFromRecentTokens()
    {
        var logits = new float[] { 1.0f, 3.0f, 2.5f, -1f };
        var plain = new TokenSampler(SamplingParams.Greedy());
        Assert.Equal(1, plain.Sample(logits));
        var penalised = new TokenSampler(SamplingParams.Greedy() with { RepeatPenalty = 1.5f, RepeatLastN = 2 });
        penalised.Accept(1);                                     // 3.0 / 1.5 = 2.0 < 2.5
        Assert.Equal(2, penalised.Sample(logits));
        penalised.Accept(2);
        penalised.Accept(3);                                     // token 1 left the last-2 window
        Assert.Equal(1, penalised.Sample(logits));
        Assert.Equal(3.0f, logits[1]);                           // the model's logits are not modified
    }

    [Fact]
    public void FrequencyAndPresencePenaltiesSubtractPerOccurrenceAndOnce()
    {
        // Tokens 5, 5, 7 were seen; logits 5: 3.0, 7: 2.4, 9: 1.0.
        var logits = new float[10];
        (logits[5], logits[7], logits[9]) = (3.0f, 2.4f, 1.0f);
        int Pick(float frequency, float presence)
        {
            var sampler = new TokenSampler(SamplingParams.Greedy() with { FrequencyPenalty = frequency, PresencePenalty = presence });
            foreach (int t in new[] { 5, 5, 7 }) sampler.Accept(t);
            return sampler.Sample(logits);
        }
        Assert.Equal(5, Pick(0, 0));
        Assert.Equal(5, Pick(0, 0.5f));     // 2.5 against 1.9: once each, whatever the count
        Assert.Equal(7, Pick(1, 0));        // 3 - 2·1 = 1.0 against 2.4 - 1 = 1.4
        Assert.Equal(9, Pick(1, 0.5f));     // 0.5 and 0.9 against the unseen 1.0
        Assert.Equal(3.0f, logits[5]);
    }
}
