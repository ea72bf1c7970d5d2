using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// Float conversions to and from the tensor encodings this project writes: F32, F16, BF16 and Q8_0, bit for bit as
/// ggml's reference code does them (so a file we quantise equals one llama.cpp quantises); Q4_K, Q5_K and Q6_K are decoded only.
/// </summary>
public static class GgmlCodec
{
    public const int Q8_0BlockSize = 32;
    const int Q8_0BlockBytes = 34;

    /// <summary>Encodes <paramref name="source"/> as <paramref name="type"/> into exactly its byte size.</summary>
    public static void Encode(GgmlType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        long need = GgmlTypeInfo.RowBytes(type, source.Length);
        if (destination.Length != need)
            throw new ArgumentException($"{source.Length} elements of {type} take {need} bytes, destination has {destination.Length}");
        switch (type)
        {
            case GgmlType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case GgmlType.F32:
                for (int i = 0; i < source.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], source[i]);
                break;
            case GgmlType.F16:
                for (int i = 0; i < source.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(destination[(2 * i)..], (Half)source[i]);
                break;
            case GgmlType.BF16:
                for (int i = 0; i < source.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], ToBFloat16(source[i]));
                break;
            case GgmlType.Q8_0:
                QuantizeQ8_0(source, destination);
                break;
            default:
                throw new NotSupportedException($"encoding floats as {type} is not supported (F32, F16, BF16, Q8_0 are)");
        }
    }

    /// <summary>Decodes <paramref name="source"/> (exactly the bytes of destination.Length elements) into floats.</summary>
    public static void Decode(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        long need = GgmlTypeInfo.RowBytes(type, destination.Length);
        if (source.Length != need)
            throw new ArgumentException($"{destination.Length} elements of {type} take {need} bytes, source has {source.Length}");
        switch (type)
        {
            case GgmlType.F32 when BitConverter.IsLittleEndian:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case GgmlType.F32:
                for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                break;
            case GgmlType.F16:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                break;
            case GgmlType.BF16:
                for (int i = 0; i < destination.Length; i++) destination[i] = FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]));
                break;
            case GgmlType.Q8_0:
                DequantizeQ8_0(source, destination);
                break;
            case GgmlType.Q4_K:
                DequantizeQ4_K(source, destination);
                break;
            case GgmlType.Q5_K:
                DequantizeQ5_K(source, destination);
                break;
            case GgmlType.Q6_K:
                DequantizeQ6_K(source, destination);
                break;
            default:
                throw new NotSupportedException($"decoding {type} to floats is not supported (F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K are)");
        }
    }

    /// <summary>
    /// ggml's quantize_row_q8_0_ref: per block of 32, d = amax/127 (stored as fp16), q = roundf(x * (1/d)) with the
    /// float d (not the rounded fp16), rounding half away from zero.
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> source, Span<byte> destination)
    {
        int blocks = source.Length / Q8_0BlockSize;
        if (source.Length % Q8_0BlockSize != 0 || destination.Length != blocks * Q8_0BlockBytes)
            throw new ArgumentException("Q8_0 needs whole blocks of 32 elements and 34 bytes per block");
        for (int b = 0; b < blocks; b++)
        {
            var x = source.Slice(b * Q8_0BlockSize, Q8_0BlockSize);
            var y = destination.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float amax = 0f;
            for (int j = 0; j < Q8_0BlockSize; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(y, (Half)d);
            for (int j = 0; j < Q8_0BlockSize; j++)
                y[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
        }
    }

    /// <summary>ggml's dequantize_row_q8_0: x = fp16 d * q.</summary>
    public static void DequantizeQ8_0(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int blocks = destination.Length / Q8_0BlockSize;
        if (destination.Length % Q8_0BlockSize != 0 || source.Length != blocks * Q8_0BlockBytes)
            throw new ArgumentException("Q8_0 needs whole blocks of 32 elements and 34 bytes per block");
        for (int b = 0; b < blocks; b++)
        {
            var y = source.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(y);
            var x = destination.Slice(b * Q8_0BlockSize, Q8_0BlockSize);
            for (int j = 0; j < Q8_0BlockSize; j++) x[j] = (sbyte)y[2 + j] * d;
        }
    }

    /// <summary>ggml's fp32→bf16: round to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    public static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// ggml's dequantize_row_q4_K. A block of 256 holds d and dmin (fp16), twelve bytes packing eight 6-bit scales and
    /// eight 6-bit mins, and 128 bytes of 4-bit values; sub-block j of 32 is d·scale_j·q − dmin·min_j, the low nibbles of
    /// 32 bytes giving one sub-block and their high nibbles the next.
    /// </summary>
    public static void DequantizeQ4_K(ReadOnlySpan<byte> source, Span<float> destination) =>
        EachBlock(GgmlType.Q4_K, source, destination, static (block, y) => ScaledNibbles(block, [], block[16..], y));

    /// <summary>ggml's dequantize_row_q5_K: Q4_K's layout with 32 bytes of fifth bits (qh) before the nibbles.</summary>
    public static void DequantizeQ5_K(ReadOnlySpan<byte> source, Span<float> destination) =>
        EachBlock(GgmlType.Q5_K, source, destination, static (block, y) => ScaledNibbles(block, block.Slice(16, 32), block[48..], y));

    // Q4_K's and Q5_K's values; sub-block i (of 8) takes bit i of each qh byte, when there are qh bytes, as 16 more.
    static void ScaledNibbles(ReadOnlySpan<byte> block, ReadOnlySpan<byte> qh, ReadOnlySpan<byte> q, Span<float> y)
    {
        float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
        float dmin = (float)BinaryPrimitives.ReadHalfLittleEndian(block[2..]);
        var scales = block.Slice(4, 12);
        for (int j = 0; j < 4; j++)
        {
            var bytes = q.Slice(32 * j, 32);
            for (int half = 0; half < 2; half++)
            {
                int sub = 2 * j + half;
                var (sc, m) = ScaleMinK4(sub, scales);
                float scale = d * sc, min = dmin * m;
                var values = y.Slice(32 * sub, 32);
                for (int l = 0; l < 32; l++)
                {
                    int v = half == 0 ? bytes[l] & 0xF : bytes[l] >> 4;
                    if (!qh.IsEmpty && (qh[l] & (1 << sub)) != 0) v += 16;
                    values[l] = scale * v - min;
                }
            }
        }
    }

    /// <summary>
    /// ggml's dequantize_row_q6_K. A block of 256 holds 128 bytes of low 4 bits, 64 bytes of high 2 bits, sixteen int8
    /// scales (one per 16 values) and d (fp16, last); a value is d·scale·(q − 32), q the 6-bit value.
    /// </summary>
    public static void DequantizeQ6_K(ReadOnlySpan<byte> source, Span<float> destination) =>
        EachBlock(GgmlType.Q6_K, source, destination, static (block, y) =>
        {
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block[208..]);
            // Two halves of 128: each takes 64 bytes of ql, 32 of qh and 8 scales.
            for (int half = 0; half < 2; half++)
            {
                var ql = block.Slice(64 * half, 64);
                var qh = block.Slice(128 + 32 * half, 32);
                var sc = MemoryMarshal.Cast<byte, sbyte>(block.Slice(192 + 8 * half, 8));
                var yh = y.Slice(128 * half, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    yh[l] = d * sc[s] * (((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
                    yh[l + 32] = d * sc[s + 2] * (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    yh[l + 64] = d * sc[s + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    yh[l + 96] = d * sc[s + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
            }
        });

    delegate void BlockDecoder(ReadOnlySpan<byte> block, Span<float> values);

    /// <summary>Decodes each block of a k-quant row with <paramref name="decode"/>.</summary>
    static void EachBlock(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination, BlockDecoder decode)
    {
        int size = GgmlTypeInfo.BlockSize(type), bytes = GgmlTypeInfo.TypeSize(type);
        int blocks = destination.Length / size;
        if (destination.Length % size != 0 || source.Length != blocks * bytes)
            throw new ArgumentException($"{type}: {destination.Length} elements are not {source.Length / bytes} blocks of {size}");
        for (int b = 0; b < blocks; b++) decode(source.Slice(b * bytes, bytes), destination.Slice(b * size, size));
    }

    // ggml's get_scale_min_k4: scales and mins 0-3 are the low 6 bits of bytes 0-3 and 4-7; 4-7 take their low 4 bits
    // from bytes 8-11 and their top 2 from the spare top bits of bytes 0-3 (scales) and 4-7 (mins).
    static (byte Scale, byte Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) => j < 4
        ? ((byte)(q[j] & 63), (byte)(q[j + 4] & 63))
        : ((byte)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)), (byte)((q[j + 4] >> 4) | ((q[j] >> 6) << 4)));
}
