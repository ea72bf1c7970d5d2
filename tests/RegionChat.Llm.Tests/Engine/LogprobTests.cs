using System.Text;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class LogprobTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task EachTokensLogprobIsTheLogSoftmaxOfItsLogitsRow()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new List<PromptSegment> { PromptSegment.Tokens(engine.Facts.BosToken!.Value), PromptSegment.Text("the small dog") };
        var run = await Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(6) with { IgnoreEos = true, Logprobs = 3 }));

        Assert.Equal(run.Final.OutputTokens, run.Logprobs.Select(l => l.Token));
        var seen = new List<int>();
        foreach (var lp in run.Logprobs)
        {
            // The same row, evaluated alone: the prompt and the tokens before this one.
            float[] logits = await engine.ComputeLogitsAsync([.. prompt, PromptSegment.Tokens([.. seen])]);
            double logZ = Math.Log(logits.Sum(l => Math.Exp(l)));
            Assert.Equal(logits[lp.Token] - logZ, lp.Logprob, 1e-3);
            int[] best = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(3).ToArray();
            Assert.Equal(best, lp.Top.Select(t => t.Token));
            Assert.Equal(lp.Token, lp.Top[0].Token);                       // greedy takes the best
            Assert.Equal(lp.Logprob, lp.Top[0].Logprob);
            Assert.True(lp.Top[0].Logprob >= lp.Top[1].Logprob && lp.Top[1].Logprob >= lp.Top[2].Logprob);
            Assert.All(lp.Top, t => Assert.Empty(t.Top));
            seen.Add(lp.Token);
        }
        Assert.Equal(run.Text, Encoding.UTF8.GetString(run.Logprobs.SelectMany(l => l.Bytes).ToArray()));
    }

    [Fact]
    public async Task ASampledTokenCarriesItsOwnLogprobAndNoneAreSentUnasked()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new[] { PromptSegment.Tokens(engine.Facts.BosToken!.Value), PromptSegment.Text("the small dog") };
        var hot = SamplingParams.Greedy(12) with { Temperature = 3f, TopK = 0, TopP = 1, MinP = 0, Seed = 7, IgnoreEos = true };

        var plain = await Collected.From(engine.GenerateAsync(session, prompt, hot));
        Assert.Empty(plain.Logprobs);
        var run = await Collected.From(engine.GenerateAsync(session, prompt, hot with { Logprobs = 0 }));
        Assert.Equal(plain.Text, run.Text);                                  // asking for them changes nothing else
        Assert.Equal(run.Final.OutputTokens, run.Logprobs.Select(l => l.Token));
        Assert.All(run.Logprobs, l => Assert.Empty(l.Top));
        Assert.All(run.Logprobs, l => Assert.True(l.Logprob <= 0 && float.IsFinite(l.Logprob)));
        // At temperature 3 over the whole vocabulary, some draws are not the most likely token.
        var ranked = await Collected.From(engine.GenerateAsync(session, prompt, hot with { Logprobs = 1 }));
        Assert.Contains(ranked.Logprobs, l => l.Top[0].Token != l.Token && l.Top[0].Logprob > l.Logprob);
    }

    [Fact]
    public async Task TheTokenAStopStringCutsIntoKeepsItsLogprobAndLaterOnesAreDropped()
    {
        using var dir = new TempDir();
        int[] chain = ScriptedModel.CatSitsOnTheRedChair();
        using var engine = ScriptedModel.Load(dir, chain);
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new[] { PromptSegment.Text("a cat") };

        var stopped = await Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(16) with { Stop = ["n the r"], Logprobs = 2 }));
        Assert.Equal(" sits o", stopped.Text);
        // " sits" shows whole, " on" shows " o": both count; " the" and " red" were decoded but show nothing.
        Assert.Equal([chain[1], chain[2]], stopped.Logprobs.Select(l => l.Token));
        Assert.Equal(4, stopped.Final.OutputTokens.Count);
        Assert.All(stopped.Logprobs, l => Assert.True(Math.Exp(l.Logprob) > 0.9, $"{l.Token}: {l.Logprob}"));

        var whole = await Collected.From(engine.GenerateAsync(session, prompt, SamplingParams.Greedy(16) with { Logprobs = 0 }));
        Assert.Equal(" sits on the red chair", whole.Text);
        Assert.Equal(chain[1..6], whole.Logprobs.Select(l => l.Token));      // the end-of-generation token is no output
    }

    [Fact]
    public void BestRanksHighestFirstAndLowerIdsFirstOnTies()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 3f, 0.5f];
        Assert.Equal([4, 1, 3], LogprobMath.Best(logits, 3));
        Assert.Equal([4, 1, 3, 0, 5, 2], LogprobMath.Best(logits, 10));
        Assert.Empty(LogprobMath.Best(logits, 0));
        Assert.Equal(Math.Log(logits.Sum(l => Math.Exp(l))), LogprobMath.LogSumExp(logits), 1e-5);
        Assert.Equal(1000f + MathF.Log(2), LogprobMath.LogSumExp([1000f, 1000f]), 1e-3);   // no overflow
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(21)]
    public void LogprobsOutsideZeroToTwentyAreRefused(int logprobs)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => (SamplingParams.Greedy() with { Logprobs = logprobs }).Validate());
        Assert.Equal(nameof(SamplingParams.Logprobs), e.ParamName);
    }
}
