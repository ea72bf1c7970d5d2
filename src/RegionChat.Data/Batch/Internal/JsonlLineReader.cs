namespace RegionChat.Data.Batch.Internal;

/// <summary>One line of a JSONL stream as raw UTF-8 bytes (without the '\n').</summary>
/// <param name="Number">1-based line number.</param>
/// <param name="Offset">Byte offset of the line's first byte.</param>
/// <param name="Length">Length in bytes without the '\n' (also when the line was too long to keep).</param>
/// <param name="Bytes">The line content; valid until the next read.</param>
/// <param name="Terminated">False only for a last line that has no trailing '\n'.</param>
/// <param name="TooLong">The line exceeded the length cap; <see cref="Bytes"/> is empty then.</param>
internal readonly record struct JsonlLine(int Number, long Offset, long Length, ReadOnlyMemory<byte> Bytes, bool Terminated, bool TooLong)
{
    /// <summary>Offset just past the line and its '\n'.</summary>
    public long End => Offset + Length + (Terminated ? 1 : 0);

    /// <summary>True for an empty or whitespace-only line.</summary>
    public bool IsBlank => !TooLong && Bytes.Span.Trim(" \t\r"u8).IsEmpty;
}

/// <summary>
/// Reads a stream line by line as bytes, with a cap on line length so a corrupt or hostile file cannot force a huge
/// allocation. Byte offsets are tracked so a caller can truncate a file at a line boundary.
/// </summary>
internal sealed class JsonlLineReader
{
    public const int DefaultMaxLineBytes = 16 * 1024 * 1024;

    readonly Stream stream;
    readonly int maxLineBytes;
    readonly byte[] chunk = new byte[64 * 1024];
    int chunkStart, chunkEnd;
    byte[] line = new byte[4096];
    long position;
    int lineNumber;
    bool eof;

    public JsonlLineReader(Stream stream, long startOffset = 0, int maxLineBytes = DefaultMaxLineBytes)
    {
        this.stream = stream;
        position = startOffset;
        this.maxLineBytes = maxLineBytes;
    }

    public bool TryRead(out JsonlLine line)
    {
        line = default;
        if (eof && chunkStart == chunkEnd) return false;
        long offset = position;
        long length = 0;
        bool tooLong = false;
        while (true)
        {
            if (chunkStart == chunkEnd)
            {
                if (eof || !Refill())
                {
                    if (length == 0 && !tooLong) return false;
                    line = Finish(offset, length, terminated: false, tooLong);
                    return true;
                }
            }
            var available = chunk.AsSpan(chunkStart, chunkEnd - chunkStart);
            int nl = available.IndexOf((byte)'\n');
            int take = nl < 0 ? available.Length : nl;
            if (!tooLong && length + take > maxLineBytes) tooLong = true;
            if (!tooLong) Append(available[..take], (int)length);
            length += take;
            chunkStart += take;
            position += take;
            if (nl >= 0)
            {
                chunkStart++;
                position++;
                line = Finish(offset, length, terminated: true, tooLong);
                return true;
            }
        }
    }

    JsonlLine Finish(long offset, long length, bool terminated, bool tooLong)
    {
        lineNumber++;
        var bytes = tooLong ? ReadOnlyMemory<byte>.Empty : new ReadOnlyMemory<byte>(line, 0, (int)length);
        // An editor may start the file with a UTF-8 BOM; JsonDocument.Parse on bytes does not skip it.
        if (offset == 0 && bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        return new JsonlLine(lineNumber, offset, length, bytes, terminated, tooLong);
    }

    void Append(ReadOnlySpan<byte> part, int at)
    {
        if (at + part.Length > line.Length)
            Array.Resize(ref line, Math.Min(maxLineBytes, Math.Max(at + part.Length, line.Length * 2)));
        part.CopyTo(line.AsSpan(at));
    }

    bool Refill()
    {
        int n = stream.Read(chunk, 0, chunk.Length);
        chunkStart = 0;
        chunkEnd = n;
        if (n == 0) eof = true;
        return n > 0;
    }
}
