using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Tests.Twin;

/// <summary>Properties of the twin that hold without llama.cpp: names, causality, segments, autograd, bad input.</summary>
public class LlamaTwinModuleTests
{
    static readonly LlamaShape Small = new(EmbeddingLength: 32, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 48, VocabSize: 50,
        ContextLength: 64);

    [Fact]
    public void ParameterNamesAreTheGgufTensorNames()
    {
        using var twin = new LlamaTwin(Small);
        var names = twin.named_parameters().Select(p => p.name).ToHashSet();
        var expected = new HashSet<string> { "token_embd.weight", "output_norm.weight", "output.weight" };
        for (int i = 0; i < 2; i++)
            foreach (var t in new[] { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" })
                expected.Add($"blk.{i}.{t}.weight");
        Assert.Equal(expected.OrderBy(s => s), names.OrderBy(s => s));
        Assert.Equal(Small.ParameterCount, twin.parameters().Sum(p => p.numel()));

        using var tied = new LlamaTwin(Small with { TiedOutput = true });
        Assert.DoesNotContain("output.weight", tied.named_parameters().Select(p => p.name));
        Assert.Equal(new long[] { 16, 32 }, twin.named_parameters().Single(p => p.name == "blk.0.attn_k.weight").parameter.shape);
    }

    [Fact]
    public void LaterTokensDoNotChangeEarlierLogitsButOrderMatters()
    {
        using var twin = new LlamaTwin(Small, seed: 3);
        using var a = twin.Predict([LlamaTwinSegment.Tokens(5, 9, 13, 2, 7)]);
        using var b = twin.Predict([LlamaTwinSegment.Tokens(5, 9, 13, 40, 41)]);
        Assert.True(a.narrow(1, 0, 3).allclose(b.narrow(1, 0, 3), rtol: 0, atol: 1e-6));
        Assert.False(a.narrow(1, 3, 1).allclose(b.narrow(1, 3, 1), rtol: 0, atol: 1e-4));

        // Same multiset of tokens in another order: the last position sees the same set, but positions differ.
        using var c = twin.Predict([LlamaTwinSegment.Tokens(9, 5, 13, 2, 7)]);
        Assert.False(a.narrow(1, 4, 1).allclose(c.narrow(1, 4, 1), rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void EmbeddingSegmentsOfTokenRowsEqualTheTokens()
    {
        using var twin = new LlamaTwin(Small, seed: 4);
        int[] ids = [3, 14, 15, 9, 26, 5];
        using var tokens = torch.tensor(ids.Select(i => (long)i).ToArray());
        using var rows = twin.TokenEmbeddingWeight.index_select(0, tokens.narrow(0, 2, 3)).detach();
        using var viaTokens = twin.Predict([LlamaTwinSegment.Tokens(tokens)]);
        using var mixed = twin.Predict([
            LlamaTwinSegment.Tokens(tokens.narrow(0, 0, 2)),
            LlamaTwinSegment.Embeddings(rows),
            LlamaTwinSegment.Tokens(tokens.narrow(0, 5, 1))]);
        Assert.Equal(new long[] { 1, 6, 50 }, mixed.shape);
        Assert.True(viaTokens.allclose(mixed, rtol: 0, atol: 1e-6));

        using var batch = torch.stack([tokens, tokens.flip(0)]);
        using var batched = twin.forward(batch);
        Assert.True(batched[0].allclose(viaTokens[0], rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void GradientsReachEveryWeightAndTheInjectedEmbeddings()
    {
        using var twin = new LlamaTwin(Small with { TiedOutput = true }, seed: 5);
        using var injected = torch.randn(3, 32).requires_grad_(true);
        using var logits = twin.Forward([LlamaTwinSegment.Tokens(1, 2), LlamaTwinSegment.Embeddings(injected), LlamaTwinSegment.Tokens(4)]);
        using var targets = torch.tensor(new long[] { 2, 3, 4, 5, 6, 7 });
        using var loss = nn.functional.cross_entropy(logits.view(-1, 50), targets);
        loss.backward();
        foreach (var (name, p) in twin.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient for {name}");
        Assert.True(injected.grad!.abs().sum().item<float>() > 0);
        Assert.False(twin.Predict([LlamaTwinSegment.Tokens(1, 2)]).requires_grad);
    }

    [Fact]
    public void BadInputGivesClearErrors()
    {
        using var twin = new LlamaTwin(Small);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => twin.Predict([LlamaTwinSegment.Tokens(1, 50)])).Message);
        Assert.Contains("width", Assert.Throws<ArgumentException>(() => twin.Predict([LlamaTwinSegment.Embeddings(torch.zeros(2, 31))])).Message);
        Assert.Throws<ArgumentException>(() => twin.Predict([]));
        Assert.Throws<ArgumentException>(() => LlamaTwinSegment.Tokens(torch.zeros(3)));
        Assert.Contains("divisible", Assert.Throws<ArgumentException>(() => new LlamaTwin(Small with { KvHeads = 3 })).Message);
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => new LlamaTwin(Small with { EmbeddingLength = 36, Heads = 4, KvHeads = 4 })).Message);
    }
}
