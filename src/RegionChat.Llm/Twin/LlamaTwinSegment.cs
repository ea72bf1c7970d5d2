using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin;

/// <summary>
/// One run of input positions for <see cref="LlamaTwin.Forward(IReadOnlyList{LlamaTwinSegment})"/>: either token ids
/// ([n] or [B, n], integer) or raw embeddings ([n, D] or [B, n, D], float) that stand in for token embeddings, as
/// llama.cpp's embedding batches do. Segments are concatenated along positions.
/// </summary>
public sealed class LlamaTwinSegment
{
    LlamaTwinSegment(Tensor data, bool isTokens) => (Data, IsTokens) = (data, isTokens);

    /// <summary>Token ids or embeddings; the caller keeps ownership (the segment does not dispose it).</summary>
    public Tensor Data { get; }

    /// <summary>True for token ids, false for embeddings.</summary>
    public bool IsTokens { get; }

    /// <summary>Number of positions the segment covers.</summary>
    public long Length => IsTokens ? Data.shape[^1] : Data.shape[^2];

    /// <summary>Token ids [n] or [B, n] (int32 or int64).</summary>
    public static LlamaTwinSegment Tokens(Tensor ids)
    {
        if (ids.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"token ids must be int32 or int64, got {ids.dtype}", nameof(ids));
        if (ids.dim() is not (1 or 2) || ids.shape[^1] == 0)
            throw new ArgumentException($"token ids must be [n] or [B, n] with n > 0, got [{string.Join(", ", ids.shape)}]", nameof(ids));
        return new LlamaTwinSegment(ids, true);
    }

    /// <summary>Token ids of one sequence (the tensor is owned by the segment's caller through <see cref="Data"/>).</summary>
    public static LlamaTwinSegment Tokens(params int[] ids) => Tokens(torch.tensor(ids.Select(i => (long)i).ToArray()));

    /// <summary>Embeddings [n, D] or [B, n, D] (floating point; gradients flow into them when they require grad).</summary>
    public static LlamaTwinSegment Embeddings(Tensor embeddings)
    {
        if (!embeddings.is_floating_point())
            throw new ArgumentException($"embeddings must be floating point, got {embeddings.dtype}", nameof(embeddings));
        if (embeddings.dim() is not (2 or 3) || embeddings.shape[^2] == 0)
            throw new ArgumentException($"embeddings must be [n, D] or [B, n, D] with n > 0, got [{string.Join(", ", embeddings.shape)}]", nameof(embeddings));
        return new LlamaTwinSegment(embeddings, false);
    }

    /// <summary>Embeddings of one sequence from row-major values (count rows of width).</summary>
    public static LlamaTwinSegment Embeddings(float[] values, int width)
    {
        if (width <= 0 || values.Length == 0 || values.Length % width != 0)
            throw new ArgumentException($"{values.Length} values do not make rows of width {width}", nameof(values));
        return Embeddings(torch.tensor(values, new long[] { values.Length / width, width }));
    }
}
