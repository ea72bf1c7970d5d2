namespace RegionChat.Llm.Twin;

/// <summary>
/// Hyperparameters of a llama-architecture model, named after the GGUF <c>llama.*</c> keys llama.cpp reads.
/// </summary>
/// <param name="VocabSize">Rows of <c>token_embd.weight</c>.</param>
/// <param name="EmbeddingLength"><c>llama.embedding_length</c> (model width D).</param>
/// <param name="BlockCount"><c>llama.block_count</c>.</param>
/// <param name="FeedForwardLength"><c>llama.feed_forward_length</c>.</param>
/// <param name="HeadCount"><c>llama.attention.head_count</c>.</param>
/// <param name="HeadCountKv"><c>llama.attention.head_count_kv</c> (grouped-query attention when below HeadCount).</param>
/// <param name="RmsEpsilon"><c>llama.attention.layer_norm_rms_epsilon</c>.</param>
/// <param name="RopeFreqBase"><c>llama.rope.freq_base</c> (llama.cpp's default is 10000).</param>
/// <param name="RopeDimensionCount"><c>llama.rope.dimension_count</c> (llama.cpp's default is the head size).</param>
/// <param name="ContextLength"><c>llama.context_length</c> (training context; the twin runs longer inputs too).</param>
/// <param name="TiedOutput">True when the file has no <c>output.weight</c> and the head reuses <c>token_embd.weight</c>.</param>
public sealed record LlamaTwinConfig(
    int VocabSize,
    int EmbeddingLength,
    int BlockCount,
    int FeedForwardLength,
    int HeadCount,
    int HeadCountKv,
    float RmsEpsilon = 1e-5f,
    float RopeFreqBase = 10000f,
    int RopeDimensionCount = 0,
    int ContextLength = 2048,
    bool TiedOutput = false)
{
    /// <summary>Size of one attention head.</summary>
    public int HeadDim => EmbeddingLength / HeadCount;

    /// <summary>Rotated dimensions per head (the head size when <see cref="RopeDimensionCount"/> is 0).</summary>
    public int RopeDims => RopeDimensionCount == 0 ? HeadDim : RopeDimensionCount;

    /// <summary>Width of the K and V projections.</summary>
    public int KvWidth => HeadCountKv * HeadDim;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent value.</summary>
    public LlamaTwinConfig Validate()
    {
        Require(VocabSize is > 0 and <= 10_000_000, $"vocabulary size {VocabSize} must be in 1..10,000,000");
        Require(EmbeddingLength is > 0 and <= 65_536, $"embedding length {EmbeddingLength} must be in 1..65,536");
        Require(BlockCount is > 0 and <= 1_024, $"block count {BlockCount} must be in 1..1,024");
        Require(FeedForwardLength is > 0 and <= 1_048_576, $"feed-forward length {FeedForwardLength} must be in 1..1,048,576");
        Require(HeadCount > 0 && EmbeddingLength % HeadCount == 0,
            $"head count {HeadCount} must be positive and divide the embedding length {EmbeddingLength}");
        Require(HeadCountKv > 0 && HeadCount % HeadCountKv == 0,
            $"KV head count {HeadCountKv} must be positive and divide the head count {HeadCount}");
        Require(HeadDim % 2 == 0, $"head size {HeadDim} must be even for rotary embeddings");
        Require(RopeDims > 0 && RopeDims <= HeadDim && RopeDims % 2 == 0,
            $"rope dimension count {RopeDims} must be even and at most the head size {HeadDim}");
        Require(float.IsFinite(RmsEpsilon) && RmsEpsilon > 0, $"RMS epsilon {RmsEpsilon} must be positive");
        Require(float.IsFinite(RopeFreqBase) && RopeFreqBase > 0, $"rope frequency base {RopeFreqBase} must be positive");
        Require(ContextLength > 0, $"context length {ContextLength} must be positive");
        return this;
    }

    /// <summary>Number of trainable values (tied head counted once).</summary>
    public long ParameterCount
    {
        get
        {
            long d = EmbeddingLength, kv = KvWidth, ff = FeedForwardLength;
            long perBlock = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * ff;
            return VocabSize * d * (TiedOutput ? 1 : 2) + d + BlockCount * perBlock;
        }
    }

    static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException("Invalid llama shape: " + message);
    }
}
