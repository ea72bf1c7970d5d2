using System.Buffers.Binary;
using System.Text;

namespace RegionChat.Llm.Gguf.Internal;

/// <summary>Little-endian primitive writer that knows how many bytes it wrote (for alignment padding).</summary>
internal sealed class CountingWriter
{
    readonly Stream _stream;
    readonly byte[] _scratch = new byte[8];
    readonly BufferedStream _buffered;

    public CountingWriter(Stream stream)
    {
        _stream = stream;
        _buffered = new BufferedStream(stream, 1 << 16);
    }

    public long Position { get; private set; }

    public void Byte(byte v)
    {
        _buffered.WriteByte(v);
        Position++;
    }

    public void UInt16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 2)); }
    public void UInt32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 4)); }
    public void UInt64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 8)); }

    /// <summary>GGUF string: uint64 byte length, then UTF-8 bytes, no terminator.</summary>
    public void String(string s)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(s);
        UInt64((ulong)utf8.Length);
        Bytes(utf8);
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        _buffered.Write(bytes);
        Position += bytes.Length;
    }

    public void Pad(int alignment)
    {
        long pad = (alignment - Position % alignment) % alignment;
        for (long i = 0; i < pad; i++) Byte(0);
    }

    public void Flush()
    {
        _buffered.Flush();
        _stream.Flush();
    }
}
