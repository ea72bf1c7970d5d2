using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>The benchmark runs end to end on a tiny model (speed targets belong to `regionchat bench llm`, not here).</summary>
public class BenchmarkTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task TheBenchmarkMeasuresEngineAndBareLoop()
    {
        var lines = new List<string>();
        var r = await LlmBenchmark.RunAsync(new LlmBenchmarkOptions
        {
            ModelPath = models.Model(), PromptEmbeddings = 24, Tokens = 5, Threads = 1, Sequences = 3, BatchSize = 16, Repeat = 1,
        }, lines.Add);
        Assert.Equal(7, lines.Count);
        Assert.InRange(r.EngineOverhead, 0, 1);
        Assert.True(r.JsonMaskMs > 0 && double.IsFinite(r.JsonMaskShare), $"{r.JsonMaskMs} ms");
        Assert.True(r.RegexMaskMs > 0 && double.IsFinite(r.RegexMaskShare), $"{r.RegexMaskMs} ms");
        foreach (var t in new[] { r.Engine, r.Bare })
        {
            Assert.True(t.PrefillTokensPerSecond > 0 && double.IsFinite(t.PrefillTokensPerSecond));
            Assert.True(t.DecodeTokensPerSecond > 0 && double.IsFinite(t.DecodeTokensPerSecond));
            Assert.True(t.AggregateDecodeTokensPerSecond > 0 && double.IsFinite(t.AggregateDecodeTokensPerSecond));
        }
        Assert.True(double.IsFinite(r.DecodeRatio) && r.DecodeRatio > 0);
        // One repeat: one pair per phase, so the median of the pairs' ratios is the ratio of the two runs.
        Assert.Equal(r.PrefillRatio, r.PairRatios.Prefill, 9);
        Assert.Equal(r.DecodeRatio, r.PairRatios.Decode, 9);
        Assert.Equal(r.AggregateDecodeRatio, r.PairRatios.AggregateDecode, 9);
        Assert.Equal(TinyModels.Width, r.Facts.EmbeddingWidth);
    }

    [Fact]
    public async Task BadBenchmarkOptionsAreRejected()
    {
        string path = models.Model();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            LlmBenchmark.RunAsync(new LlmBenchmarkOptions { ModelPath = path, Tokens = 1 }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            LlmBenchmark.RunAsync(new LlmBenchmarkOptions { ModelPath = path, Sequences = 0 }));
        await Assert.ThrowsAsync<FileNotFoundException>(() =>
            LlmBenchmark.RunAsync(new LlmBenchmarkOptions { ModelPath = path + ".nope" }));
    }
}
