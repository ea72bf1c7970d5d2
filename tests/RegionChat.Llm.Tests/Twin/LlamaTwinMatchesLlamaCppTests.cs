using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;
using TorchSharp;
using Xunit.Abstractions;

namespace RegionChat.Llm.Tests.Twin;

/// <summary>The twin's logits equal real llama.cpp's (LLamaSharp 0.30.0) on the same f32 GGUF.</summary>
public class LlamaTwinMatchesLlamaCppTests(ITestOutputHelper output)
{
    const double MaxAbs = 1e-3, MaxRel = 1e-4;

    static readonly LlamaVocabulary Vocab = LlamaVocabulary.BuiltInEnglish();

    // Grouped-query attention (2 KV heads for 4), separate output head.
    static readonly LlamaShape Gqa = new(EmbeddingLength: 64, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 128,
        VocabSize: Vocab.Count, ContextLength: 256, RopeFreqBase: 10000f, RmsEps: 1e-5f);

    // Plain multi-head attention with 32-wide heads, tied head, other rope base and epsilon.
    static readonly LlamaShape Mha = new(EmbeddingLength: 96, Layers: 3, Heads: 3, KvHeads: 3, FeedForward: 160,
        VocabSize: Vocab.Count, ContextLength: 256, RopeFreqBase: 500000f, RmsEps: 1e-6f, TiedOutput: true);

    public static TheoryData<string> Shapes => new() { nameof(Gqa), nameof(Mha) };

    static LlamaShape ShapeNamed(string name) => name == nameof(Gqa) ? Gqa : Mha;

    void Check(string what, LogitDifference d)
    {
        output.WriteLine($"{what}: max |diff| {d.MaxAbs:E2}, relative {d.MaxRel:E2} (max |logit| {d.MaxAbsLogit:F3}, {d.Positions} positions)");
        Assert.True(d.MaxAbsLogit > 0.1, $"{what}: logits are too small ({d.MaxAbsLogit}) for the comparison to mean anything");
        Assert.True(d.MaxAbs < MaxAbs, $"{what}: max |diff| {d.MaxAbs:E3} ≥ {MaxAbs:E0}");
        Assert.True(d.MaxRel < MaxRel, $"{what}: relative diff {d.MaxRel:E3} ≥ {MaxRel:E0}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SynthesizedGgufGivesTheSameLogitsOnTokenAndMixedInput(string shapeName)
    {
        using var dir = new TempDir();
        string path = dir.File("synth.gguf");
        LlamaGgufSynth.Write(path, ShapeNamed(shapeName), Vocab, GgmlType.F32, seed: 11);

        var result = LlamaTwinComparison.Run(path, tokens: 24, embeddings: 7, seed: 3, threads: 2);
        Assert.Equal(ShapeNamed(shapeName), result.Shape);
        Check($"{shapeName} tokens", result.TokenInput);
        Check($"{shapeName} tokens+embeddings", result.MixedInput);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SavedTwinRunsInLlamaCppWithTheSameLogits(string shapeName)
    {
        using var dir = new TempDir();
        string path = dir.File("twin.gguf");
        using var twin = new LlamaTwin(ShapeNamed(shapeName), seed: 21);
        // Llama pre-training init gives tiny logits; widen the weights so the comparison has something to measure.
        using (torch.no_grad())
            foreach (var p in twin.parameters()) if (p.dim() == 2) p.mul_(3f);
        twin.SaveGguf(path, Vocab, GgmlType.F32);

        using var reloaded = LlamaTwin.FromGguf(path);
        var original = twin.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in reloaded.named_parameters())
            Assert.True((p - original[name]).abs().max().item<float>() == 0f, $"{name} changed in the f32 round trip");

        var ids = torch.tensor(new long[] { 1, 40, 41, 300, 7, 99, 2, 250, 251, 252 });
        using var rows = torch.randn(4, ShapeNamed(shapeName).EmbeddingLength) * 0.05f;
        LlamaTwinSegment[] mixed = [LlamaTwinSegment.Tokens(ids.narrow(0, 0, 3)), LlamaTwinSegment.Embeddings(rows), LlamaTwinSegment.Tokens(ids.narrow(0, 3, 7))];
        Check($"{shapeName} saved, tokens", LogitDifference.Between(LlamaCppReference.Logits(path, [LlamaTwinSegment.Tokens(ids)]), twin.Predict([LlamaTwinSegment.Tokens(ids)])));
        Check($"{shapeName} saved, mixed", LogitDifference.Between(LlamaCppReference.Logits(path, mixed), twin.Predict(mixed)));
    }
}
