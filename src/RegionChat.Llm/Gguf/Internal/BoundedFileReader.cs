using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace RegionChat.Llm.Gguf.Internal;

/// <summary>
/// Sequential little-endian reader over a file handle that knows the file's length, so every count read from the file
/// can be checked against the bytes actually left before anything is allocated for it.
/// </summary>
internal sealed class BoundedFileReader
{
    readonly SafeFileHandle handle;
    readonly byte[] buffer = new byte[1 << 16];
    long bufferStart;   // file offset of _buffer[0]
    int bufferLength;
    int bufferPos;

    public BoundedFileReader(SafeFileHandle handle, long length)
    {
        this.handle = handle;
        Length = length;
    }

    public long Length { get; }
    public long Position => bufferStart + bufferPos;
    public long Remaining => Length - Position;

    /// <summary>What is being read, for error messages ("metadata key 3", "tensor info 'blk.0.attn_q.weight'").</summary>
    public string Context { get; set; } = "header";

    public byte Byte() => Take(1)[0];
    public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public string String()
    {
        ulong length = UInt64();
        if (length > (ulong)Remaining)
            throw Fail($"string length {length} exceeds the {Remaining} bytes left in the file (truncated or corrupt)");
        if (length > int.MaxValue) throw Fail($"string length {length} is too large");
        int n = (int)length;
        if (n <= buffer.Length) return Encoding.UTF8.GetString(Take(n));
        var bytes = new byte[n];
        for (int done = 0; done < n;)
        {
            int chunk = Math.Min(buffer.Length, n - done);
            Take(chunk).CopyTo(bytes.AsSpan(done));
            done += chunk;
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Throws unless at least count × minBytesEach bytes remain (checked before allocating count items).</summary>
    public void RequireRoomFor(ulong count, int minBytesEach, string what)
    {
        if (count > (ulong)Remaining / (ulong)minBytesEach)
            throw Fail($"{what} {count} is impossible: {count} × at least {minBytesEach} bytes exceeds the {Remaining} bytes left in the file " +
                "(truncated or corrupt)");
    }

    public GgufFormatException Fail(string message) =>
        new($"GGUF {Context} at byte {Position}: {message}");

    ReadOnlySpan<byte> Take(int n)
    {
        if (n > Remaining) throw Fail($"file is truncated: needs {n} more bytes, only {Remaining} left");
        if (bufferPos + n > bufferLength) Refill();
        var span = buffer.AsSpan(bufferPos, n);
        bufferPos += n;
        return span;
    }

    void Refill()
    {
        long start = Position;
        bufferStart = start;
        bufferPos = 0;
        bufferLength = 0;
        int want = (int)Math.Min(buffer.Length, Length - start);
        while (bufferLength < want)
        {
            int got = RandomAccess.Read(handle, buffer.AsSpan(bufferLength, want - bufferLength), start + bufferLength);
            if (got <= 0) throw Fail("file ended early while reading");
            bufferLength += got;
        }
    }
}
