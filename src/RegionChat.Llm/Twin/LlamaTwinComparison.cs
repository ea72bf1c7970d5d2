using RegionChat.Llm.Gguf;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin;

/// <summary>How far two sets of logits [T][V] are apart.</summary>
/// <param name="MaxAbs">Largest |twin − llama.cpp| over every position and token.</param>
/// <param name="MaxRel">MaxAbs divided by the largest |llama.cpp logit|.</param>
/// <param name="MaxAbsLogit">The largest |llama.cpp logit|.</param>
/// <param name="Positions">Positions compared.</param>
public sealed record LogitDifference(double MaxAbs, double MaxRel, double MaxAbsLogit, int Positions)
{
    /// <summary>The difference between reference rows and a twin's logits [1, T, V] (or [T, V]).</summary>
    public static LogitDifference Between(float[][] reference, Tensor twinLogits)
    {
        using var rows = twinLogits.reshape(-1, twinLogits.shape[^1]).to(ScalarType.Float32, torch.CPU);
        if (rows.shape[0] != reference.Length || reference.Length == 0 || rows.shape[1] != reference[0].Length)
            throw new ArgumentException($"twin logits [{string.Join(", ", twinLogits.shape)}] do not match {reference.Length} reference rows " +
                $"of {(reference.Length > 0 ? reference[0].Length : 0)}");
        var twin = rows.data<float>().ToArray();
        int v = reference[0].Length;
        double maxAbs = 0, maxLogit = 0;
        for (int t = 0; t < reference.Length; t++)
            for (int i = 0; i < v; i++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(twin[t * v + i] - (double)reference[t][i]));
                maxLogit = Math.Max(maxLogit, Math.Abs(reference[t][i]));
            }
        return new LogitDifference(maxAbs, maxLogit == 0 ? maxAbs : maxAbs / maxLogit, maxLogit, reference.Length);
    }
}

/// <summary>The twin against llama.cpp on the same GGUF: token input and mixed text + embedding input.</summary>
public sealed record LlamaTwinComparisonResult(LlamaShape Shape, int Tokens, int Embeddings, int Seed, LogitDifference TokenInput, LogitDifference MixedInput);

/// <summary>Runs the twin and llama.cpp on the same random inputs and measures how far their logits are apart.</summary>
public static class LlamaTwinComparison
{
    /// <summary>
    /// Loads the GGUF into the twin and into llama.cpp, then feeds both <paramref name="tokens"/> random token ids, and
    /// a mixed input: the first half of those tokens, <paramref name="embeddings"/> random vectors (at the scale of the
    /// token embeddings), then the other half.
    /// </summary>
    public static LlamaTwinComparisonResult Run(string ggufPath, int tokens = 16, int embeddings = 8, int seed = 0, int threads = 2)
    {
        if (tokens < 2) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "at least 2 tokens are needed");
        if (embeddings < 1) throw new ArgumentOutOfRangeException(nameof(embeddings), embeddings, "at least 1 embedding is needed");
        if (tokens + embeddings > 8192) throw new ArgumentOutOfRangeException(nameof(tokens), "tokens + embeddings must stay within 8192 positions");
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be positive");

        using var twin = LlamaTwin.FromGguf(ggufPath);
        twin.eval();
        var shape = twin.Shape;
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator((ulong)seed);
        var ids = torch.randint(0, shape.VocabSize, [tokens], dtype: ScalarType.Int64, generator: generator);
        float rowRms = twin.TokenEmbeddingWeight.detach().square().mean().sqrt().item<float>();
        var vectors = torch.randn([embeddings, shape.EmbeddingLength], generator: generator) * rowRms;

        LlamaTwinSegment[] tokenInput = [LlamaTwinSegment.Tokens(ids)];
        int half = tokens / 2;
        LlamaTwinSegment[] mixedInput =
        [
            LlamaTwinSegment.Tokens(ids.narrow(0, 0, half)),
            LlamaTwinSegment.Embeddings(vectors),
            LlamaTwinSegment.Tokens(ids.narrow(0, half, tokens - half)),
        ];

        using var reference = new LlamaCppReference(ggufPath, threads);
        var tokenDiff = LogitDifference.Between(reference.Logits(tokenInput), twin.Predict(tokenInput));
        var mixedDiff = LogitDifference.Between(reference.Logits(mixedInput), twin.Predict(mixedInput));
        return new LlamaTwinComparisonResult(shape, tokens, embeddings, seed, tokenDiff, mixedDiff);
    }
}
