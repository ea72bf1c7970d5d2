using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>Injected rows go through the same graph as token ids: feeding a sentence's own token-embedding rows
/// (read from token_embd in the GGUF) must give the logits the token ids give.</summary>
public class EmbeddingInjectionTests(TinyModels models) : IClassFixture<TinyModels>
{
    const string Sentence = "the cat sits on the red chair near a small dog and looks at the big tree";

    [Theory]
    [InlineData(64)]
    [InlineData(5)]   // chunks that cut through every segment
    public async Task TokenEmbeddingRowsGiveTheLogitsOfTheTokenIds(int batchSize)
    {
        using var engine = models.Load(batchSize: batchSize);
        int[] ids = [engine.Facts.BosToken!.Value, .. engine.Tokenize(Sentence)];
        float[] rows = EmbeddingRows(ids);

        var byIds = await engine.ComputeLogitsAsync([PromptSegment.Tokens(ids)]);
        var byRows = await engine.ComputeLogitsAsync([PromptSegment.Embeddings(new EmbeddingBlock(rows, TinyModels.Width))]);
        AssertClose(byIds, byRows);

        // Text, injected rows, then text again: positions must run on across the segments.
        int a = 4, b = 11;
        var mixed = await engine.ComputeLogitsAsync([
            PromptSegment.Tokens(ids[..a]),
            PromptSegment.Embeddings(new EmbeddingBlock(rows.AsMemory(a * TinyModels.Width, (b - a) * TinyModels.Width), TinyModels.Width)),
            PromptSegment.Tokens(ids[b..]),
        ]);
        AssertClose(byIds, mixed);

        // The comparison can fail: a sentence with one word changed gives other logits.
        int[] other = [.. ids[..^1], engine.Tokenize("dog")[0]];
        var changed = await engine.ComputeLogitsAsync([PromptSegment.Tokens(other)]);
        Assert.True(MaxDiff(byIds, changed) > 1e-3);
    }

    float[] EmbeddingRows(int[] ids)
    {
        using var gguf = GgufFile.Open(models.Model());
        var table = gguf.ReadTensor("token_embd.weight");
        var rows = new float[ids.Length * TinyModels.Width];
        for (int i = 0; i < ids.Length; i++)
            table.AsSpan(ids[i] * TinyModels.Width, TinyModels.Width).CopyTo(rows.AsSpan(i * TinyModels.Width));
        return rows;
    }

    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(MaxDiff(expected, actual) <= 1e-5, $"max |Δlogit| = {MaxDiff(expected, actual)}");
    }

    static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}
