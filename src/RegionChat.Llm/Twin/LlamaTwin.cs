using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RegionChat.Llm.Twin;

/// <summary>
/// A TorchSharp copy of the llama architecture as llama.cpp computes it (RMS norm, NORMAL-mode rotary embeddings on
/// adjacent pairs, grouped-query causal attention, SwiGLU, optional tied head). It reads and writes the same GGUF
/// files llama.cpp runs, so weights trained here with autograd run unchanged in llama.cpp.
/// Parameter names are the GGUF tensor names (<c>token_embd.weight</c>, <c>blk.N.attn_q.weight</c>, …).
/// </summary>
public sealed partial class LlamaTwin : nn.Module<Tensor, Tensor>
{
    readonly RotaryTable rope;

#pragma warning disable IDE1006 // GGUF names
    readonly EmbeddingTable token_embd;
    readonly ModuleList<LlamaTwinBlock> blk;
    readonly RmsNorm output_norm;
    readonly LinearWeight? output;
#pragma warning restore IDE1006

    /// <summary>A model of the given shape, initialised like llama pre-training (normal 0.02, norms at 1).</summary>
    public LlamaTwin(LlamaShape shape, long seed = 0) : this(shape, (long?)seed)
    {
    }

    LlamaTwin(LlamaShape shape, long? seed) : base(nameof(LlamaTwin))
    {
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate();
        Shape = shape;
        rope = new RotaryTable(shape.HeadDim, shape.RopeFreqBase);
        token_embd = new EmbeddingTable(shape.VocabSize, shape.EmbeddingLength);
        blk = new ModuleList<LlamaTwinBlock>();
        for (int i = 0; i < shape.Layers; i++) blk.Add(new LlamaTwinBlock(shape));
        output_norm = new RmsNorm(shape.EmbeddingLength, shape.RmsEps);
        if (!shape.TiedOutput) output = new LinearWeight(shape.EmbeddingLength, shape.VocabSize);
        RegisterComponents();
        if (seed is long s) InitialiseWeights(s);
    }

    /// <summary>An uninitialised model whose weights the caller overwrites (GGUF loading).</summary>
    internal static LlamaTwin Uninitialised(LlamaShape shape) => new(shape, (long?)null);

    /// <summary>The shape this model was built with (the llama.* hyperparameters of its GGUF).</summary>
    public LlamaShape Shape { get; }

    /// <summary>The token embedding table [V, D] (also the output head when <see cref="LlamaShape.TiedOutput"/>).</summary>
    public Parameter TokenEmbeddingWeight => token_embd.weight;

    /// <summary>Logits [B, T, V] for token ids [B, T] (integer) or input embeddings [B, T, D] (floating point).</summary>
    public override Tensor forward(Tensor input)
    {
        bool embeddings = input.is_floating_point();
        if (embeddings && (input.dim() != 3 || input.shape[2] != Shape.EmbeddingLength))
            throw new ArgumentException($"embeddings must be [B, T, {Shape.EmbeddingLength}], got [{string.Join(", ", input.shape)}]");
        if (!embeddings && input.dim() != 2)
            throw new ArgumentException($"token ids must be [B, T], got [{string.Join(", ", input.shape)}]");
        using var scope = torch.NewDisposeScope();
        return scope.MoveToOuter(Head(Hidden(embeddings ? input : Embed(input))));
    }

    /// <summary>
    /// Logits [B, T, V] for text and embedding segments concatenated along positions (positions numbered 0..T-1
    /// across segments, as llama.cpp numbers them across its batches). Unbatched segments are shared by every row.
    /// </summary>
    public Tensor Forward(IReadOnlyList<LlamaTwinSegment> segments)
    {
        using var scope = torch.NewDisposeScope();
        return scope.MoveToOuter(Head(Hidden(EmbedSegments(segments))));
    }

    /// <summary><see cref="Forward(IReadOnlyList{LlamaTwinSegment})"/> for inference: no autograd graph.</summary>
    public Tensor Predict(IReadOnlyList<LlamaTwinSegment> segments)
    {
        using var noGrad = torch.no_grad();
        return Forward(segments);
    }

    /// <summary>Token embeddings [.., D] for ids [..]; ids outside the vocabulary throw <see cref="ArgumentException"/>.</summary>
    public Tensor Embed(Tensor ids)
    {
        if (ids.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"token ids must be int32 or int64, got {ids.dtype}");
        if (ids.numel() > 0)
        {
            long min = ids.min().item<long>(), max = ids.max().item<long>();
            if (min < 0 || max >= Shape.VocabSize)
                throw new ArgumentException($"token id {(min < 0 ? min : max)} is outside the vocabulary (0..{Shape.VocabSize - 1})");
        }
        using var scope = torch.NewDisposeScope();
        return scope.MoveToOuter(token_embd.forward(ids.to(ScalarType.Int64)));
    }

    /// <summary>Input embeddings [B, T, D] for segments (batch 1 segments are broadcast to the largest batch).</summary>
    public Tensor EmbedSegments(IReadOnlyList<LlamaTwinSegment> segments)
    {
        if (segments.Count == 0) throw new ArgumentException("at least one input segment is needed");
        using var scope = torch.NewDisposeScope();
        var parts = new List<Tensor>();
        foreach (var s in segments)
        {
            Tensor e;
            if (s.IsTokens) e = Embed(s.Data.dim() == 1 ? s.Data.unsqueeze(0) : s.Data);
            else
            {
                if (s.Data.shape[^1] != Shape.EmbeddingLength)
                    throw new ArgumentException($"embedding segment width {s.Data.shape[^1]} is not the model width {Shape.EmbeddingLength}");
                e = (s.Data.dim() == 2 ? s.Data.unsqueeze(0) : s.Data).to(TokenEmbeddingWeight.dtype, TokenEmbeddingWeight.device);
            }
            parts.Add(e);
        }
        long batch = parts.Max(p => p.shape[0]);
        for (int i = 0; i < parts.Count; i++)
        {
            if (parts[i].shape[0] == batch) continue;
            if (parts[i].shape[0] != 1)
                throw new ArgumentException($"segment {i} has batch {parts[i].shape[0]}, others {batch} (only 1 broadcasts)");
            parts[i] = parts[i].expand(batch, -1, -1);
        }
        return scope.MoveToOuter(parts.Count == 1 ? parts[0] : torch.cat(parts, 1));
    }

    /// <summary>The final-normed hidden states [B, T, D] for input embeddings [B, T, D].</summary>
    public Tensor Hidden(Tensor embeddings)
    {
        using var scope = torch.NewDisposeScope();
        int t = checked((int)embeddings.shape[1]);
        var (cos, sin) = rope.For(t, embeddings.device, embeddings.dtype);
        var x = embeddings;
        foreach (var block in blk) x = block.forward(x, cos, sin);
        return scope.MoveToOuter(output_norm.forward(x));
    }

    /// <summary>Logits [.., V] for final hidden states [.., D] (the tied embedding table when there is no output head).</summary>
    public Tensor Head(Tensor hidden) => output is null ? F.linear(hidden, token_embd.weight) : output.forward(hidden);

    void InitialiseWeights(long seed)
    {
        using var noGrad = torch.no_grad();
        using var generator = new torch.Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("_norm.weight", StringComparison.Ordinal)) p.fill_(1.0f);
            // Tensor.normal_ honours the generator; nn.init.normal_ in TorchSharp 0.107 ignores it (the seed had no effect).
            else p.normal_(0.0, 0.02, generator);
        }
    }
}
