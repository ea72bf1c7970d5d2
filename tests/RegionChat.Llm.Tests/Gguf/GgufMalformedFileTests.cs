using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Gguf;

/// <summary>Corrupt files give a GgufFormatException naming the problem, fast and without a big allocation.</summary>
public class GgufMalformedFileTests
{
    static byte[] ValidFile()
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "test");
        w.Add("arr", GgufValue.Array(new[] { 1, 2, 3 }));
        w.AddString("dupA", "x");
        w.AddString("dupB", "y");
        w.AddTensor("tensor_x", [32, 2], GgmlType.F32, new float[64]);
        var ms = new MemoryStream();
        w.Write(ms);
        return ms.ToArray();
    }

    static int Find(byte[] bytes, string marker)
    {
        int i = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
        Assert.True(i >= 0, marker);
        return i;
    }

    static byte[] Patch(Action<byte[]> change)
    {
        var b = ValidFile();
        change(b);
        return b;
    }

    static void U32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    static void U64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    // tensor_x's info: name, then n_dims (4), ne0, ne1 (8 each), type (4), offset (8).
    static int TensorInfo(byte[] b) => Find(b, "tensor_x") + "tensor_x".Length;
    // "arr": key, then value type (4), element type (4), count (8).
    static int ArrayValue(byte[] b) => Find(b, "arr") + 3;

    public static TheoryData<string, string> Cases() => new()
    {
        { "empty file", "shorter than the 24-byte header" },
        { "bad magic", "not a GGUF file" },
        { "truncated header", "shorter than the 24-byte header" },
        { "truncated metadata", "truncated" },
        { "version 1", "version 1" },
        { "version 99", "version 99" },
        { "big-endian", "big-endian" },
        { "huge string length", "string length" },
        { "huge metadata count", "metadata count" },
        { "huge tensor count", "tensor count" },
        { "huge array count", "array length" },
        { "unknown value type", "unknown metadata value type 77" },
        { "unknown array element type", "unknown array element type 77" },
        { "duplicate key", "duplicate metadata key" },
        { "five dims", "5 dimensions" },
        { "huge dim", "larger than the file" },
        { "unknown tensor type", "unknown ggml tensor type 999" },
        { "unaligned offset", "not a multiple of the alignment" },
        { "offset past end", "past the end of the file" },
        { "truncated tensor data", "past the end of the file" },
        { "bad alignment value", "general.alignment" },
    };

    static byte[] Make(string name) => name switch
    {
        "empty file" => [],
        "bad magic" => Patch(b => b[3] = (byte)'X'),
        "truncated header" => ValidFile()[..20],
        "truncated metadata" => ValidFile()[..40],
        "version 1" => Patch(b => U32(b, 4, 1)),
        "version 99" => Patch(b => U32(b, 4, 99)),
        "big-endian" => Patch(b => U32(b, 4, 0x03000000)),
        "huge string length" => Patch(b => U64(b, 24, 1UL << 60)),
        "huge metadata count" => Patch(b => U64(b, 16, 1UL << 40)),
        "huge tensor count" => Patch(b => U64(b, 8, ulong.MaxValue)),
        "huge array count" => Patch(b => U64(b, ArrayValue(b) + 8, 1UL << 50)),
        "unknown value type" => Patch(b => U32(b, ArrayValue(b), 77)),
        "unknown array element type" => Patch(b => U32(b, ArrayValue(b) + 4, 77)),
        "duplicate key" => Patch(b => b[Find(b, "dupB") + 3] = (byte)'A'),
        "five dims" => Patch(b => U32(b, TensorInfo(b), 5)),
        "huge dim" => Patch(b => U64(b, TensorInfo(b) + 4, 1UL << 62)),
        "unknown tensor type" => Patch(b => U32(b, TensorInfo(b) + 20, 999)),
        "unaligned offset" => Patch(b => U64(b, TensorInfo(b) + 24, 4)),
        "offset past end" => Patch(b => U64(b, TensorInfo(b) + 24, 1UL << 40)),
        "truncated tensor data" => ValidFile()[..^16],
        "bad alignment value" => AlignmentFile(48),
        _ => throw new ArgumentException(name),
    };

    static byte[] AlignmentFile(uint alignment)
    {
        var w = new GgufWriter(64);
        var ms = new MemoryStream();
        w.Write(ms);
        var b = ms.ToArray();
        U32(b, Find(b, "general.alignment") + "general.alignment".Length + 4, alignment);
        return b;
    }

    [Fact]
    public void TheUnpatchedFileIsValid()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("ok.gguf"), ValidFile());
        using var f = GgufFile.Open(dir.File("ok.gguf"));
        Assert.Equal(new[] { 1, 2, 3 }, f.GetArray<int>("arr"));
        Assert.Equal(new long[] { 32, 2 }, f.GetTensorInfo("tensor_x").Ne);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MalformedFileGivesAClearErrorQuickly(string name, string messagePart)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        File.WriteAllBytes(path, Make(name));
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose());
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Contains(messagePart, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.ElapsedMilliseconds < 1000, $"{name}: {clock.ElapsedMilliseconds} ms");
        Assert.True(allocated < 4 << 20, $"{name}: allocated {allocated} bytes");
    }
}
