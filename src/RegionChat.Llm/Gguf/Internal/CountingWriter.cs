using System.Buffers.Binary;
using System.Text;

namespace RegionChat.Llm.Gguf.Internal;

/// <summary>Little-endian primitive writer that knows how many bytes it wrote (for alignment padding).</summary>
internal sealed class CountingWriter
{
    readonly Stream stream;
    readonly byte[] scratch = new byte[8];
    readonly BufferedStream buffered;

    public CountingWriter(Stream stream)
    {
        this.stream = stream;
        buffered = new BufferedStream(stream, 1 << 16);
    }

    public long Position { get; private set; }

    public void Byte(byte v)
    {
        buffered.WriteByte(v);
        Position++;
    }

    public void UInt16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(scratch, v); Bytes(scratch.AsSpan(0, 2)); }
    public void UInt32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(scratch, v); Bytes(scratch.AsSpan(0, 4)); }
    public void UInt64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(scratch, v); Bytes(scratch.AsSpan(0, 8)); }

    /// <summary>GGUF string: uint64 byte length, then UTF-8 bytes, no terminator.</summary>
    public void String(string s)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(s);
        UInt64((ulong)utf8.Length);
        Bytes(utf8);
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        buffered.Write(bytes);
        Position += bytes.Length;
    }

    public void Pad(int alignment)
    {
        long pad = (alignment - Position % alignment) % alignment;
        for (long i = 0; i < pad; i++) Byte(0);
    }

    public void Flush()
    {
        buffered.Flush();
        stream.Flush();
    }
}
