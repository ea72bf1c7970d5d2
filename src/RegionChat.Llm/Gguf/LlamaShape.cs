namespace RegionChat.Llm.Gguf;

/// <summary>One tensor of a llama GGUF: its name, its ggml dims (innermost first) and whether it is a norm (1-D, F32).</summary>
public sealed record LlamaTensorSpec(string Name, long[] Ne, bool IsNorm)
{
    /// <summary>Input features of a weight (ne[0]); for token_embd the embedding length.</summary>
    public long FanIn => Ne[0];

    public long ElementCount => Ne.Aggregate(1L, (a, b) => a * b);

    /// <summary>PyTorch shape ([out, in] for a weight).</summary>
    public long[] TorchShape => Ne.Reverse().ToArray();
}

/// <summary>Hyper-parameters of a llama-architecture model as llama.cpp reads them from llama.* keys.</summary>
public sealed record LlamaShape(
    int EmbeddingLength,
    int Layers,
    int Heads,
    int KvHeads,
    int FeedForward,
    int VocabSize,
    int ContextLength = 2048,
    float RopeFreqBase = 10000f,
    float RmsEps = 1e-5f,
    bool TiedOutput = false)
{
    /// <summary>TinyLlama-1.1B's dimensions (vocab 32000, 2048 wide, 22 layers, 32 heads, 4 KV heads, ff 5632).</summary>
    public static LlamaShape TinyLlama1B { get; } = new(2048, 22, 32, 4, 5632, 32000, 2048, 10000f, 1e-5f);

    public int HeadDim => EmbeddingLength / Heads;

    /// <summary>Width of the K and V projections (KvHeads × HeadDim).</summary>
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Throws ArgumentException when the dimensions do not fit together.</summary>
    public void Validate()
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new ArgumentException($"llama shape: {name} must be positive, is {v}");
        }
        Positive(EmbeddingLength, "embedding length");
        Positive(Layers, "layers");
        Positive(Heads, "heads");
        Positive(KvHeads, "kv heads");
        Positive(FeedForward, "feed-forward length");
        Positive(VocabSize, "vocab size");
        Positive(ContextLength, "context length");
        if (EmbeddingLength % Heads != 0)
            throw new ArgumentException($"llama shape: embedding length {EmbeddingLength} is not divisible by {Heads} heads");
        if (Heads % KvHeads != 0)
            throw new ArgumentException($"llama shape: {Heads} heads are not divisible by {KvHeads} kv heads");
        if (HeadDim % 2 != 0) throw new ArgumentException($"llama shape: head size {HeadDim} must be even for RoPE");
        if (!(RopeFreqBase > 0) || !(RmsEps > 0)) throw new ArgumentException("llama shape: rope base and rms eps must be positive");
    }

    /// <summary>Every tensor llama.cpp expects, in the order a GGUF lists them.</summary>
    public IReadOnlyList<LlamaTensorSpec> Tensors()
    {
        Validate();
        long d = EmbeddingLength, kv = KvDim, ff = FeedForward, v = VocabSize;
        var list = new List<LlamaTensorSpec> { new("token_embd.weight", [d, v], false) };
        for (int i = 0; i < Layers; i++)
        {
            string p = $"blk.{i}.";
            list.Add(new(p + "attn_norm.weight", [d], true));
            list.Add(new(p + "attn_q.weight", [d, d], false));
            list.Add(new(p + "attn_k.weight", [d, kv], false));
            list.Add(new(p + "attn_v.weight", [d, kv], false));
            list.Add(new(p + "attn_output.weight", [d, d], false));
            list.Add(new(p + "ffn_norm.weight", [d], true));
            list.Add(new(p + "ffn_gate.weight", [d, ff], false));
            list.Add(new(p + "ffn_up.weight", [d, ff], false));
            list.Add(new(p + "ffn_down.weight", [ff, d], false));
        }
        list.Add(new("output_norm.weight", [d], true));
        if (!TiedOutput) list.Add(new("output.weight", [d, v], false));
        return list;
    }

    /// <summary>Parameter count (all tensors).</summary>
    public long ParameterCount => Tensors().Sum(t => t.ElementCount);
}
