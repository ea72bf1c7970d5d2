using System.Globalization;
using System.Text;
using System.Text.Json;
using RegionChat.Data.Batch;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.CaptionBatch;

/// <summary>
/// Joins the outputs of a sharded caption batch job (<c>caption-batch merge --output ALL SHARD_OUTPUT…</c>) into one
/// JSONL file that holds every id once: the records are copied as they are, file by file in the order given, each in
/// its file's order.
/// </summary>
/// <remarks>
/// <para>An id found in more than one record is kept once when its records agree (the same fields apart from
/// <c>timings</c>: the same caption and model, or the same error); records that disagree are a conflict, and then
/// nothing is written. A shard output that was killed mid-write can end in a torn last line (no '\n'): that fragment is
/// left out (a rerun of the shard removes it and captions the item again); any other line that is not a JSON object with
/// an id is an error naming the file and line.</para>
/// <para>The merged file is written next to its final path and moved into place, so a merge that stops leaves either
/// the old file or the whole new one.</para>
/// </remarks>
public static class CaptionBatchMerge
{
    /// <summary>Most conflicts the exception message lists.</summary>
    const int ConflictsListed = 10;

    /// <summary>Merges <paramref name="sources"/> into <paramref name="outputPath"/> (replacing it).</summary>
    /// <param name="inputPath">Optional: the job's input; the result then lists the input ids that have no record.</param>
    /// <exception cref="ArgumentException">No source, or the output is one of the sources or the input.</exception>
    /// <exception cref="FileNotFoundException">A source (or the input) does not exist.</exception>
    /// <exception cref="InvalidDataException">A line of a source is not a JSON object with an id (file and line named).</exception>
    /// <exception cref="CaptionBatchMergeConflictException">Records of one id disagree; nothing was written.</exception>
    public static CaptionBatchMergeResult Merge(string outputPath, IReadOnlyList<string> sources, string? inputPath = null,
        CocoRegionSource regionFrom = CocoRegionSource.Mask, string? imageRoot = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0) throw new ArgumentException("merge: give one or more shard outputs to merge");
        string output = Path.GetFullPath(outputPath);
        var full = sources.Select(Path.GetFullPath).ToArray();
        if (full.Contains(output, StringComparer.Ordinal))
            throw new ArgumentException($"--output {output} is also one of the files to merge; write the merged file elsewhere");
        if (full.Distinct(StringComparer.Ordinal).Count() != full.Length)
            throw new ArgumentException("merge: the same shard output is given twice");
        string? input = inputPath is null ? null : Path.GetFullPath(inputPath);
        if (input != null && string.Equals(input, output, StringComparison.Ordinal))
            throw new ArgumentException("--output must not be the input file");
        foreach (var f in full)
            if (!File.Exists(f)) throw new FileNotFoundException($"shard output {f} does not exist", f);
        // Read the input first: a bad --input fails before anything is written.
        IReadOnlyList<string>? inputIds = input is null ? null
            : BatchInputFiles.Read(input, regionFrom, imageRoot).Items.Select(i => i.Id).ToArray();

        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string temp = Path.Combine(Path.GetDirectoryName(output)!,
            $".{Path.GetFileName(output)}.merge-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp");
        var seen = new Dictionary<string, SeenRecord>(StringComparer.Ordinal);
        var conflicts = new List<string>();
        var perSource = new List<CaptionBatchMergeSource>();
        int captions = 0, errors = 0, duplicates = 0;
        try
        {
            using (var writer = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                for (int s = 0; s < full.Length; s++)
                {
                    var (records, kept, torn) = CopySource(full[s], s, writer, seen, full, conflicts, ref captions, ref errors, ref duplicates);
                    perSource.Add(new CaptionBatchMergeSource(full[s], records, kept, torn));
                }
                writer.Flush(flushToDisk: true);
            }
            if (conflicts.Count > 0)
                throw new CaptionBatchMergeConflictException(
                    $"{conflicts.Count} {(conflicts.Count == 1 ? "id has" : "ids have")} records that disagree, nothing was written to {output}:" +
                    Environment.NewLine + string.Join(Environment.NewLine, conflicts.Take(ConflictsListed).Select(c => "  " + c)) +
                    (conflicts.Count > ConflictsListed ? $"{Environment.NewLine}  … and {conflicts.Count - ConflictsListed} more" : ""),
                    conflicts);
            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }

        IReadOnlyList<string> missing = [];
        int extra = 0;
        if (inputIds != null)
        {
            var inInput = inputIds.ToHashSet(StringComparer.Ordinal);
            missing = inputIds.Where(id => !seen.ContainsKey(id)).ToArray();
            extra = seen.Keys.Count(id => !inInput.Contains(id));
        }
        return new CaptionBatchMergeResult(output, seen.Count, captions, errors, duplicates, perSource, inputIds?.Count, missing, extra);
    }

    /// <summary>What merge keeps of an id's first record: a hash of its comparison key (not the key: an embedding's is
    /// kilobytes, and a shard can hold millions), the start of the key for messages, and where it was.</summary>
    readonly record struct SeenRecord(UInt128 KeyHash, string Preview, int Source, int Line);

    static UInt128 Hash(string key)
    {
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    /// <summary>Copies one shard output's new records, streaming it line by line (a shard may be larger than memory).</summary>
    static (int Records, int Kept, long Torn) CopySource(string path, int source, FileStream writer,
        Dictionary<string, SeenRecord> seen, string[] paths, List<string> conflicts,
        ref int captions, ref int errors, ref int duplicates)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var reader = new JsonlLineReader(stream);
        int records = 0, kept = 0;
        long torn = 0;
        while (reader.TryRead(out var line))
        {
            if (!line.Terminated)
            {
                torn = line.Length; // bytes after the last '\n' are a torn write
                break;
            }
            string where = $"{path} line {line.Number}";
            if (line.TooLong) throw new InvalidDataException($"{where}: longer than {JsonlLineReader.DefaultMaxLineBytes} bytes");
            if (line.IsBlank) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line.Bytes); }
            catch (JsonException e) { throw new InvalidDataException($"{where}: not valid JSON ({e.Message})", e); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
                string id = (root.TryGetProperty("id", out var idElement) ? JsonlIds.FromElement(idElement) : null)
                    ?? throw new InvalidDataException($"{where}: needs an \"id\" that is a non-empty string or an integer");
                records++;
                string key = ComparisonKey(root);
                var hash = Hash(key);
                if (seen.TryGetValue(id, out var first))
                {
                    if (first.KeyHash == hash) duplicates++;
                    else
                        conflicts.Add($"id {JsonSerializer.Serialize(id)}: {paths[first.Source]} line {first.Line} says {first.Preview}, " +
                            $"{where} says {Describe(key)}");
                    continue;
                }
                seen.Add(id, new SeenRecord(hash, Describe(key), source, line.Number));
                if (root.TryGetProperty("error", out _)) errors++;
                else captions++;
                kept++;
                writer.Write(line.Bytes.Span);
                writer.WriteByte((byte)'\n');
            }
        }
        return (records, kept, torn);
    }

    /// <summary>The record's fields apart from "id" and "timings" (which differ between two runs of one item), as JSON.</summary>
    static string ComparisonKey(JsonElement record)
    {
        var sb = new StringBuilder("{");
        foreach (var p in record.EnumerateObject().Where(p => p.Name is not "id" and not "timings").OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (sb.Length > 1) sb.Append(',');
            sb.Append(JsonSerializer.Serialize(p.Name)).Append(':').Append(p.Value.GetRawText());
        }
        return sb.Append('}').ToString();
    }

    static string Describe(string key) => key.Length <= 120 ? key : key[..120] + "…";

}

/// <summary>What a merge wrote.</summary>
/// <param name="OutputPath">The merged file.</param>
/// <param name="Records">Records in it (distinct ids).</param>
/// <param name="Captions">Of those, captions.</param>
/// <param name="Errors">Of those, error records.</param>
/// <param name="DuplicatesDropped">Records left out because an agreeing record of their id came earlier.</param>
/// <param name="Sources">Per source file: records read, records kept, torn bytes left out.</param>
/// <param name="InputItems">Items of the input, when one was given.</param>
/// <param name="MissingIds">Input ids without a record (empty without an input).</param>
/// <param name="ExtraIds">Merged ids that are not in the input (0 without an input).</param>
public sealed record CaptionBatchMergeResult(string OutputPath, int Records, int Captions, int Errors, int DuplicatesDropped,
    IReadOnlyList<CaptionBatchMergeSource> Sources, int? InputItems, IReadOnlyList<string> MissingIds, int ExtraIds);

/// <summary>One merged file: records read, records kept (first of their id), bytes of a torn last line left out.</summary>
public sealed record CaptionBatchMergeSource(string Path, int Records, int Kept, long TornBytes);

/// <summary>Records of the same id disagree (another caption, or a caption and an error); the merge wrote nothing.</summary>
public sealed class CaptionBatchMergeConflictException(string message, IReadOnlyList<string> conflicts) : Exception(message)
{
    /// <summary>One line per conflicting id.</summary>
    public IReadOnlyList<string> Conflicts { get; } = conflicts;
}
