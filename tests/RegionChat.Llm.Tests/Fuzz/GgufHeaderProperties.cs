using System.Buffers.Binary;
using CsCheck;
using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Fuzz;

/// <summary>A valid GGUF file with header bytes flipped, cut, or overwritten by large counts and lengths: opening it
/// gives the file or a <see cref="GgufFormatException"/>, never another exception, and never allocates in proportion to
/// a number the file claims. A failure prints the seed that replays it.</summary>
public sealed class GgufHeaderProperties : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    static readonly byte[] Original = Write();

    static byte[] Write()
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "test");
        w.Add("tokens", GgufValue.Array(new[] { 1, 2, 3, 4 }));
        w.AddFloat32("scale", 0.5f);
        w.AddString("name", "fuzz");
        w.AddTensor("a", [32, 2], GgmlType.F32, new float[64]);
        w.AddTensor("b", [32], GgmlType.F16, new float[32]);
        using var ms = new MemoryStream();
        w.Write(ms);
        return ms.ToArray();
    }

    static readonly Gen<ulong> Number = Gen.Frequency((2, Gen.ULong),
        (3, Gen.OneOf(0UL, 1UL, 3UL, 13UL, 255UL, 0xFFFFFFFFUL, 0x7FFFFFFFFFFFFFFFUL, ulong.MaxValue, 1UL << 40)));

    /// <summary>Edits within the header and metadata (the first bytes up to the tensor data): 0 flip a bit, 1 cut, 2 write
    /// a 64-bit number, 3 write a 32-bit one.</summary>
    static byte[] Apply(byte[] data, (int Op, int At, ulong Value) edit)
    {
        if (data.Length == 0) return data;
        int at = Math.Min(edit.At, data.Length - 1);
        var b = (byte[])data.Clone();
        switch (edit.Op)
        {
            case 0: b[at] ^= (byte)(1 << (int)(edit.Value % 8)); return b;
            case 1: return data[..at];
            case 2: if (at + 8 <= b.Length) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), edit.Value); return b;
            default: if (at + 4 <= b.Length) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), (uint)edit.Value); return b;
        }
    }

    [Fact]
    public void AnyDamagedHeaderOpensOrIsRefused()
    {
        string path = temp.File("fuzz.gguf");
        int header = (int)Math.Min(Original.Length, 320);
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, header - 1], Number).Array[1, 3].Sample(edits =>
        {
            File.WriteAllBytes(path, edits.Aggregate(Original, Apply));
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var file = GgufFile.Open(path);
                Assert.NotNull(file.Metadata);
            }
            catch (GgufFormatException)
            {
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 16 << 20, $"opening a {Original.Length}-byte file allocated {allocated:N0} bytes");
        }, iter: 3000, threads: 1);
    }
}
