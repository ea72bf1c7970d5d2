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
    readonly SafeFileHandle _handle;
    readonly byte[] _buffer = new byte[1 << 16];
    long _bufferStart;   // file offset of _buffer[0]
    int _bufferLength;
    int _bufferPos;

    public BoundedFileReader(SafeFileHandle handle, long length)
    {
        _handle = handle;
        Length = length;
    }

    public long Length { get; }
    public long Position => _bufferStart + _bufferPos;
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
        if (n <= _buffer.Length) return Encoding.UTF8.GetString(Take(n));
        var bytes = new byte[n];
        for (int done = 0; done < n;)
        {
            int chunk = Math.Min(_buffer.Length, n - done);
            Take(chunk).CopyTo(bytes.AsSpan(done));
            done += chunk;
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Throws unless at least count × minBytesEach bytes remain (checked before allocating count items).</summary>
    public void RequireRoomFor(ulong count, int minBytesEach, string what)
    {
        if (count > (ulong)Remaining / (ulong)minBytesEach)
            throw Fail($"{what} {count} is impossible: {count} × at least {minBytesEach} bytes exceeds the {Remaining} bytes left in the file (truncated or corrupt)");
    }

    public GgufFormatException Fail(string message) =>
        new($"GGUF {Context} at byte {Position}: {message}");

    ReadOnlySpan<byte> Take(int n)
    {
        if (n > Remaining) throw Fail($"file is truncated: needs {n} more bytes, only {Remaining} left");
        if (_bufferPos + n > _bufferLength) Refill();
        var span = _buffer.AsSpan(_bufferPos, n);
        _bufferPos += n;
        return span;
    }

    void Refill()
    {
        long start = Position;
        _bufferStart = start;
        _bufferPos = 0;
        _bufferLength = 0;
        int want = (int)Math.Min(_buffer.Length, Length - start);
        while (_bufferLength < want)
        {
            int got = RandomAccess.Read(_handle, _buffer.AsSpan(_bufferLength, want - _bufferLength), start + _bufferLength);
            if (got <= 0) throw Fail("file ended early while reading");
            _bufferLength += got;
        }
    }
}
