using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.Data.Batch;

/// <summary>
/// Append-only JSONL output of a batch job that survives being killed at any instant and resumes where it stopped.
/// </summary>
/// <remarks>
/// <para>Every record is one JSON object with an "id" (non-empty string or integer) on one line. Opening an existing
/// file scans it, collects the ids already written (<see cref="CompletedIds"/>) and repairs a torn tail: bytes after
/// the last '\n' (a write cut short by a kill) or a last line that is not a JSON object with an id (garbage a crash
/// can leave) are truncated away, so the file again ends at a complete line. A bad line that is NOT the last one is
/// not a torn write but corruption, and opening fails with its line number rather than dropping data.</para>
/// <para><see cref="Append"/> serialises the record to one line and hands line + '\n' to the OS in a single write,
/// so a kill leaves either the whole line or a prefix without '\n', which the next open removes. Ids are unique:
/// an id already in the file is refused. The file is opened exclusively, so a second writer fails at once.</para>
/// <para>Data reach the OS page cache with every append (a killed process loses nothing written); fsync, which
/// protects against an OS crash or power loss, runs every <see cref="FsyncEvery"/> appends and on dispose.</para>
/// </remarks>
public sealed class ResumableJsonlWriter : IDisposable
{
    static readonly JsonSerializerOptions LineOptions = new()
    {
        WriteIndented = false,
        // Readable UTF-8 captions; control characters (and so '\n') are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    readonly FileStream stream;
    readonly HashSet<string> ids;
    readonly Lock gate = new();
    int sinceFsync;
    bool faulted;
    bool disposed;

    ResumableJsonlWriter(string path, FileStream stream, HashSet<string> ids, long repairedBytes, int fsyncEvery)
    {
        Path = path;
        this.stream = stream;
        this.ids = ids;
        RepairedBytes = repairedBytes;
        FsyncEvery = fsyncEvery;
    }

    /// <summary>Full path of the output file.</summary>
    public string Path { get; }

    /// <summary>Bytes of a torn tail that opening removed (0 when the file was clean or new).</summary>
    public long RepairedBytes { get; }

    /// <summary>fsync after this many appends (1 = after every append).</summary>
    public int FsyncEvery { get; }

    /// <summary>Ids present in the file: those found when opening plus those appended since.</summary>
    public IReadOnlyCollection<string> CompletedIds
    {
        get { lock (gate) return ids.ToArray(); }
    }

    /// <summary>Number of records in the file.</summary>
    public int Count
    {
        get { lock (gate) return ids.Count; }
    }

    /// <summary>Whether a record with this id is already in the file.</summary>
    public bool Contains(string id)
    {
        lock (gate) return ids.Contains(id);
    }

    /// <summary>Opens (or creates) <paramref name="path"/>, scanning and repairing what is already there.</summary>
    /// <param name="fsyncEvery">fsync after this many appends; 1 = every append (the default).</param>
    /// <exception cref="InvalidDataException">A line before the last is not a JSON object with a unique id.</exception>
    /// <exception cref="IOException">The file is open in another writer, or cannot be opened.</exception>
    public static ResumableJsonlWriter Open(string path, int fsyncEvery = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(fsyncEvery, 1);
        string full = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(full, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                // Unbuffered: each Append is one write(2) of the whole line, nothing waits in a managed buffer.
                BufferSize = 0,
            });
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"cannot open batch output {full} for writing (is another job writing it?): {e.Message}", e);
        }
        try
        {
            var (ids, goodEnd) = Scan(stream, full);
            long repaired = stream.Length - goodEnd;
            if (repaired > 0)
            {
                stream.SetLength(goodEnd);
                stream.Flush(flushToDisk: true);
            }
            stream.Position = goodEnd;
            return new ResumableJsonlWriter(full, stream, ids, repaired, fsyncEvery);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends one record; throws when its id is already in the file.</summary>
    /// <exception cref="ArgumentException">No usable "id", or the id is already present.</exception>
    public void Append(JsonObject record)
    {
        if (!TryAppend(record))
            throw new ArgumentException($"batch output {Path} already holds id {JsonlIds.Quote(IdOf(record))}", nameof(record));
    }

    /// <summary>Appends one record unless its id is already in the file (then returns false and writes nothing).</summary>
    /// <exception cref="ArgumentException">The record has no "id" that is a non-empty string or an integer.</exception>
    public bool TryAppend(JsonObject record)
    {
        ArgumentNullException.ThrowIfNull(record);
        string id = IdOf(record);
        byte[] line = Serialize(record);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (faulted) throw new IOException($"batch output {Path} failed earlier; reopen it to repair and resume");
            if (ids.Contains(id)) return false;
            long before = stream.Position;
            try
            {
                stream.Write(line);
            }
            catch (Exception e)
            {
                // Leave no partial line behind if we can; otherwise refuse further appends until a reopen repairs it.
                try { stream.SetLength(before); stream.Position = before; }
                catch (Exception) { faulted = true; }
                // A file past its size limit (EFBIG: RLIMIT_FSIZE, FAT32's 4 GiB) fails as ArgumentOutOfRangeException in .NET.
                if (e is IOException) throw;
                throw new IOException(e is ArgumentOutOfRangeException ? "the file would grow past the size its file system or process allows"
                    : e.Message, e);
            }
            ids.Add(id);
            if (++sinceFsync >= FsyncEvery)
            {
                stream.Flush(flushToDisk: true);
                sinceFsync = 0;
            }
            return true;
        }
    }

    /// <summary>fsyncs any appends not yet synced.</summary>
    public void Flush()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            stream.Flush(flushToDisk: true);
            sinceFsync = 0;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            try
            {
                if (sinceFsync > 0 && !faulted) stream.Flush(flushToDisk: true);
            }
            finally
            {
                stream.Dispose();
            }
        }
    }

    static string IdOf(JsonObject record) =>
        JsonlIds.FromNode(record["id"])
        ?? throw new ArgumentException("a batch output record needs an \"id\" that is a non-empty string or an integer", nameof(record));

    static byte[] Serialize(JsonObject record)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(record, LineOptions);
        // Compact JSON escapes control characters, so a raw newline here would mean a serializer change: fail loudly.
        if (json.AsSpan().Contains((byte)'\n')) throw new InvalidOperationException("serialised record contains a raw newline");
        byte[] line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>Collects the ids and returns the offset just past the last good line (where the file should end).</summary>
    static (HashSet<string> Ids, long GoodEnd) Scan(FileStream stream, string path)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new JsonlLineReader(stream);
        long goodEnd = 0;
        // A bad line is only acceptable as the last line of the file; remember it until we know whether more follow.
        (int Number, string Problem)? pendingBad = null;
        while (reader.TryRead(out var line))
        {
            if (pendingBad is { } bad)
                throw new InvalidDataException($"{path} line {bad.Number}: {bad.Problem} (only the last line may be torn; fix or remove this line)");
            if (!line.Terminated) break; // torn tail: everything from here on is cut away
            if (line.IsBlank) { goodEnd = line.End; continue; }
            string? problem = ReadId(line, out string? id);
            if (problem != null) { pendingBad = (line.Number, problem); continue; }
            if (ids.TryGetValue(id!, out int first))
                throw new InvalidDataException($"{path} line {line.Number}: id {JsonlIds.Quote(id!)} already appears on line {first}");
            ids.Add(id!, line.Number);
            goodEnd = line.End;
        }
        return (new HashSet<string>(ids.Keys, StringComparer.Ordinal), goodEnd);
    }

    static string? ReadId(in JsonlLine line, out string? id)
    {
        id = null;
        if (line.TooLong) return $"line longer than {JsonlLineReader.DefaultMaxLineBytes} bytes";
        try
        {
            using var doc = JsonDocument.Parse(line.Bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return "not a JSON object";
            if (!doc.RootElement.TryGetProperty("id", out var idElement)) return "no \"id\"";
            id = JsonlIds.FromElement(idElement);
            return id == null ? "\"id\" is not a non-empty string or an integer" : null;
        }
        catch (JsonException e)
        {
            return "not valid JSON: " + e.Message;
        }
    }
}
