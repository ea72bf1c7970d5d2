namespace RegionChat.Llm.Gguf;

/// <summary>Block layout of the ggml tensor types: a row of n elements takes n / BlockSize * TypeSize bytes.</summary>
public static class GgmlTypeInfo
{
    /// <summary>True for the types whose block layout this project knows (every <see cref="GgmlType"/> member).</summary>
    public static bool IsKnown(GgmlType type) => Layout(type).BlockSize != 0;

    /// <summary>Elements per block (1 for plain types, 32 for Q8_0, 256 for K-quants).</summary>
    public static int BlockSize(GgmlType type) => Known(type).BlockSize;

    /// <summary>Bytes per block.</summary>
    public static int TypeSize(GgmlType type) => Known(type).TypeSize;

    /// <summary>True for the types this project can encode and decode as floats.</summary>
    public static bool IsFloatCodec(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0;

    /// <summary>True for the types this project can decode to floats: those it encodes, and Q4_K, Q5_K and Q6_K (the
    /// token tables of k-quant LLaVA GGUFs).</summary>
    public static bool CanDecode(GgmlType type) => IsFloatCodec(type) || type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Bytes of one row of <paramref name="rowLength"/> elements; throws when the row is not whole blocks.</summary>
    public static long RowBytes(GgmlType type, long rowLength)
    {
        var (block, size) = Known(type);
        if (rowLength % block != 0)
            throw new ArgumentException($"{type} stores blocks of {block} elements; a row of {rowLength} is not a whole number of blocks");
        return rowLength / block * size;
    }

    static (int BlockSize, int TypeSize) Known(GgmlType type)
    {
        var l = Layout(type);
        return l.BlockSize != 0 ? l : throw new ArgumentException($"unknown ggml tensor type {(uint)type}");
    }

    // Sizes are those of ggml's block_* structs (ggml-common.h).
    static (int BlockSize, int TypeSize) Layout(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.BF16 => (1, 2),
        GgmlType.F64 => (1, 8),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.IQ4_NL => (32, 18),
        GgmlType.MXFP4 => (32, 17),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        GgmlType.IQ2_XXS => (256, 66),
        GgmlType.IQ2_XS => (256, 74),
        GgmlType.IQ3_XXS => (256, 98),
        GgmlType.IQ1_S => (256, 50),
        GgmlType.IQ3_S => (256, 110),
        GgmlType.IQ2_S => (256, 82),
        GgmlType.IQ4_XS => (256, 136),
        GgmlType.IQ1_M => (256, 56),
        GgmlType.TQ1_0 => (256, 54),
        GgmlType.TQ2_0 => (256, 66),
        _ => (0, 0),
    };
}
