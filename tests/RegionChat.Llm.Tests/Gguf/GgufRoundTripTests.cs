using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Gguf;

public class GgufRoundTripTests
{
    static GgufValue[] EveryValue() =>
    [
        GgufValue.UInt8(200), GgufValue.Int8(-100), GgufValue.UInt16(60000), GgufValue.Int16(-30000),
        GgufValue.UInt32(4_000_000_000), GgufValue.Int32(-2_000_000_000), GgufValue.Float32(-1.25e-7f), GgufValue.Bool(true),
        GgufValue.Bool(false), GgufValue.String("héllo ▁wörld 😀"), GgufValue.String(""), GgufValue.UInt64(ulong.MaxValue - 1),
        GgufValue.Int64(long.MinValue + 3), GgufValue.Float64(Math.PI), GgufValue.Float32(float.NaN),
        GgufValue.Array(new byte[] { 0, 1, 255 }), GgufValue.Array(new sbyte[] { -128, 0, 127 }),
        GgufValue.Array(new ushort[] { 0, 65535 }), GgufValue.Array(new short[] { short.MinValue, 7 }),
        GgufValue.Array(new uint[] { 1, uint.MaxValue }), GgufValue.Array(new int[] { int.MinValue, -1, 5 }),
        GgufValue.Array(new float[] { 0.1f, -0f, float.PositiveInfinity, 3e38f }), GgufValue.Array(new bool[] { true, false, true }),
        GgufValue.Array(new string[] { "a", "", "▁cat", "<0x0A>" }), GgufValue.Array(new ulong[] { ulong.MaxValue }),
        GgufValue.Array(new long[] { long.MaxValue, long.MinValue }), GgufValue.Array(new double[] { 1e-300, -2.5 }),
        GgufValue.Array(Array.Empty<int>()), GgufValue.Array(Array.Empty<string>()),
        GgufValue.Array(new[] { GgufValue.Array(new int[] { 1, 2 }), GgufValue.Array(new string[] { "x" }) }),
    ];

    [Fact]
    public void EveryMetadataTypeRoundTripsExactly()
    {
        using var dir = new TempDir();
        var values = EveryValue();
        var w = new GgufWriter();
        for (int i = 0; i < values.Length; i++) w.Add($"test.v{i}", values[i]);
        string path = dir.File("meta.gguf");
        w.Write(path);

        using var f = GgufFile.Open(path);
        Assert.Equal(3u, f.Version);
        Assert.Empty(f.Tensors);
        Assert.Equal(values.Length, f.MetadataInOrder.Count);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal($"test.v{i}", f.MetadataInOrder[i].Key);
            AssertSameValue(values[i], f.MetadataInOrder[i].Value);
        }
        Assert.Equal(4_000_000_000u, f.GetUInt32("test.v4"));
        Assert.Equal(-2_000_000_000, f.GetInt32("test.v5"));
        Assert.Equal(-100, f.GetInt64("test.v1"));
        Assert.Equal("héllo ▁wörld 😀", f.GetString("test.v9"));
        Assert.True(f.GetBool("test.v7"));
        Assert.Equal(Math.PI, f.GetFloat64("test.v13"));
        Assert.Equal(new[] { "a", "", "▁cat", "<0x0A>" }, f.GetStringArray("test.v23"));
        Assert.Throws<InvalidCastException>(() => f.GetString("test.v4"));
        Assert.Throws<InvalidCastException>(() => f.GetInt32("test.v4")); // 4e9 does not fit an int
        Assert.Throws<KeyNotFoundException>(() => f.GetString("absent"));
    }

    static void AssertSameValue(GgufValue expected, GgufValue actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.ElementType, actual.ElementType);
        if (!expected.IsArray)
        {
            AssertSameScalar(expected.Value, actual.Value);
            return;
        }
        var e = (Array)expected.Value;
        var a = (Array)actual.Value;
        Assert.Equal(e.GetType(), a.GetType());
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
        {
            if (e.GetValue(i) is GgufValue inner) AssertSameValue(inner, (GgufValue)a.GetValue(i)!);
            else AssertSameScalar(e.GetValue(i)!, a.GetValue(i)!);
        }
    }

    static void AssertSameScalar(object e, object a)
    {
        Assert.Equal(e.GetType(), a.GetType());
        // Bit patterns, so NaN, -0 and infinities count too.
        if (e is float fe) Assert.Equal(BitConverter.SingleToUInt32Bits(fe), BitConverter.SingleToUInt32Bits((float)a));
        else if (e is double de) Assert.Equal(BitConverter.DoubleToUInt64Bits(de), BitConverter.DoubleToUInt64Bits((double)a));
        else Assert.Equal(e, a);
    }

    static void AssertBits(float[] expected, float[] actual) =>
        Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), actual.Select(BitConverter.SingleToUInt32Bits));

    static float[] Ramp(int n, float scale, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return x;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(256)]
    public void TensorsRoundTripAndRespectAlignment(int alignment)
    {
        using var dir = new TempDir();
        var f32 = Ramp(3 * 5 * 2, 10f, 1);
        var halfExact = Ramp(7 * 3, 4f, 2).Select(x => (float)(Half)x).ToArray(); // exactly representable in fp16
        var bf16Exact = Ramp(9, 100f, 3).Select(x => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(x) & 0xFFFF0000)).ToArray();
        var q8 = Ramp(64 * 2, 1f, 4);
        var raw = new byte[] { 1, 2, 3, 4, 5, 6, 7 };

        var w = new GgufWriter(alignment);
        w.AddString("general.architecture", "test");
        w.AddTensor("f32", [3, 5, 2], GgmlType.F32, f32);
        w.AddTensor("f16", [7, 3], GgmlType.F16, () => halfExact);
        w.AddTensor("bf16", [9], GgmlType.BF16, bf16Exact);
        w.AddTensor("q8", [64, 2], GgmlType.Q8_0, q8);
        w.AddRawTensor("i8", [7], GgmlType.I8, () => raw);
        string path = dir.File("t.gguf");
        w.Write(path);

        using var f = GgufFile.Open(path);
        Assert.Equal(alignment, f.Alignment);
        Assert.Equal(alignment != 32, f.Contains("general.alignment"));
        Assert.Equal(0, f.DataOffset % alignment);
        Assert.Equal(new[] { "f32", "f16", "bf16", "q8", "i8" }, f.Tensors.Select(t => t.Name));
        long expectedOffset = 0;
        foreach (var t in f.Tensors)
        {
            Assert.Equal(expectedOffset, t.Offset); // packed in order, each starting on an alignment boundary
            expectedOffset = (t.Offset + t.ByteSize + alignment - 1) / alignment * alignment;
        }
        Assert.Equal(f.DataOffset + expectedOffset, f.FileSize);

        Assert.Equal(new long[] { 3, 5, 2 }, f.GetTensorInfo("f32").Ne);
        Assert.Equal(new long[] { 2, 5, 3 }, f.GetTensorInfo("f32").TorchShape);
        Assert.Equal(GgmlType.F16, f.GetTensorInfo("f16").Type);
        Assert.Equal(4 * 34, f.GetTensorInfo("q8").ByteSize); // 128 elements = 4 blocks of 32
        AssertBits(f32, f.ReadTensor("f32"));
        AssertBits(halfExact, f.ReadTensor("f16"));
        AssertBits(bf16Exact, f.ReadTensor("bf16"));
        Assert.Equal(raw, f.ReadTensorBytes("i8"));

        // Q8_0 reads back as the dequantised values: within half a step (d/2) of the input, d = amax/127 per block.
        var back = f.ReadTensor("q8");
        for (int b = 0; b < 4; b++)
        {
            var block = q8.AsSpan(32 * b, 32);
            float d = (float)(Half)(block.ToArray().Max(MathF.Abs) / 127f);
            for (int j = 0; j < 32; j++) Assert.InRange(back[32 * b + j] - block[j], -d * 0.5001f - 1e-6f, d * 0.5001f + 1e-6f);
        }

        // Padding bytes between tensors are zeros.
        var bytes = File.ReadAllBytes(path);
        var f32Info = f.GetTensorInfo("f32");
        for (long i = f.DataOffset + f32Info.ByteSize; i < f.DataOffset + f.GetTensorInfo("f16").Offset; i++) Assert.Equal(0, bytes[i]);
    }

    [Fact]
    public void RowsCanBeReadInPieces()
    {
        using var dir = new TempDir();
        var x = Ramp(64 * 10, 3f, 5);
        var w = new GgufWriter();
        w.AddTensor("q", [64, 10], GgmlType.Q8_0, x);
        w.Write(dir.File("r.gguf"));
        using var f = GgufFile.Open(dir.File("r.gguf"));
        var whole = f.ReadTensor("q");
        var part = new float[64 * 3];
        f.ReadTensorRows("q", 4, 3, part);
        Assert.Equal(whole.AsSpan(64 * 4, 64 * 3).ToArray(), part);
        Assert.Throws<ArgumentOutOfRangeException>(() => f.ReadTensorRows("q", 8, 3, part));
    }

    [Fact]
    public void StreamedRowsEqualTheWholeArray()
    {
        // A tensor bigger than one write chunk (1 Mi floats) goes through the row producer in several calls.
        using var dir = new TempDir();
        const int rowLength = 1024, rows = 1500;
        var calls = new List<(long, int)>();
        var w = new GgufWriter();
        w.AddTensor("big", [rowLength, rows], GgmlType.F16, (first, count, dst) =>
        {
            calls.Add((first, count));
            for (int r = 0; r < count; r++)
                for (int i = 0; i < rowLength; i++) dst[r * rowLength + i] = (first + r) * 0.25f + i;
        });
        w.Write(dir.File("big.gguf"));
        Assert.True(calls.Count > 1);
        Assert.Equal(rows, calls.Sum(c => c.Item2));
        using var f = GgufFile.Open(dir.File("big.gguf"));
        var back = f.ReadTensor("big");
        for (int r = 0; r < rows; r += 97)
            for (int i = 0; i < rowLength; i += 31)
                Assert.Equal((float)(Half)(r * 0.25f + i), back[r * rowLength + i]);
    }

    [Fact]
    public void Bf16RoundsToNearestEven()
    {
        // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        Assert.Equal(1f, GgmlCodec.FromBFloat16(GgmlCodec.ToBFloat16(1f + MathF.Pow(2, -8))));
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up.
        Assert.Equal(1f + MathF.Pow(2, -6), GgmlCodec.FromBFloat16(GgmlCodec.ToBFloat16(1f + 3 * MathF.Pow(2, -8))));
        Assert.True(float.IsNaN(GgmlCodec.FromBFloat16(GgmlCodec.ToBFloat16(float.NaN))));
    }

    [Fact]
    public void Q8_0RoundsHalfAwayFromZero()
    {
        // amax 127 gives d = 1 exactly, so x·(1/d) = x and the ties are exact.
        var x = new float[32];
        x[0] = 127f; x[1] = 0.5f; x[2] = 1.5f; x[3] = -2.5f; x[4] = -0.5f; x[5] = 2.49f;
        var q = new byte[34];
        GgmlCodec.QuantizeQ8_0(x, q);
        Assert.Equal((Half)1f, BitConverter.ToHalf(q, 0));
        Assert.Equal(new sbyte[] { 127, 1, 2, -3, -1, 2, 0 }, q.Skip(2).Take(7).Select(b => (sbyte)b).ToArray());
        var zeros = new byte[34];
        GgmlCodec.QuantizeQ8_0(new float[32], zeros);
        Assert.All(zeros, b => Assert.Equal(0, b));
    }

    [Fact]
    public void WriterRejectsBadInput()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => new GgufWriter(48));
        w.AddString("a", "x");
        Assert.Throws<ArgumentException>(() => w.AddString("a", "y"));
        Assert.Throws<ArgumentException>(() => w.AddUInt32("general.alignment", 64)); // the constructor sets it
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", [33], GgmlType.Q8_0, new float[33]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("z", [4, 0], GgmlType.F32, new float[0]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("five", [1, 1, 1, 1, 1], GgmlType.F32, new float[1]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("k", [32], GgmlType.Q4_K, new float[32]));
        w.AddTensor("t", [4], GgmlType.F32, new float[4]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", [4], GgmlType.F32, new float[4]));
        var wrong = new GgufWriter();
        wrong.AddTensor("t", [4], GgmlType.F32, () => new float[3]);
        Assert.Throws<InvalidOperationException>(() => wrong.Write(new MemoryStream()));
    }
}
