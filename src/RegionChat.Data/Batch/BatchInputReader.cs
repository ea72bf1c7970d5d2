using System.Text.Json;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.Data.Batch;

/// <summary>
/// Reads a batch job's JSONL input: one <c>{"id", "image", "region", "instruction"?}</c> object per line.
/// </summary>
/// <remarks>
/// Blank lines are skipped and other keys are ignored. Every error names the file and the line. The image file's
/// existence is not checked here: the job reports a missing image for its item.
/// </remarks>
public static class BatchInputReader
{
    /// <summary>Reads and validates the whole file; duplicate ids are rejected.</summary>
    /// <exception cref="InvalidDataException">A line is not valid JSON, lacks a field, has a wrong type, or repeats an id.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<BatchInputItem> ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"batch input {full} not found", full);
        string folder = Path.GetDirectoryName(full)!;
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        return Read(stream, full, folder);
    }

    /// <summary>Reads from a stream; <paramref name="baseFolder"/> resolves relative image paths.</summary>
    public static IReadOnlyList<BatchInputItem> Read(Stream stream, string sourceName, string baseFolder)
    {
        var items = new List<BatchInputItem>();
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new JsonlLineReader(stream);
        while (reader.TryRead(out var line))
        {
            if (line.IsBlank) continue;
            string where = $"{sourceName} line {line.Number}";
            if (line.TooLong) throw new InvalidDataException($"{where}: longer than {JsonlLineReader.DefaultMaxLineBytes} bytes");
            var item = ParseLine(line, where, baseFolder);
            if (firstLine.TryGetValue(item.Id, out int first))
                throw new InvalidDataException($"{where}: id {JsonlIds.Quote(item.Id)} already used on line {first}");
            firstLine.Add(item.Id, line.Number);
            items.Add(item);
        }
        return items;
    }

    static BatchInputItem ParseLine(in JsonlLine line, string where, string baseFolder)
    {
        using (var doc = JsonlIds.ParseRecord(line.Bytes, where, out string id))
        {
            var root = doc.RootElement;

            if (!root.TryGetProperty("image", out var image) || image.ValueKind != JsonValueKind.String
                || string.IsNullOrWhiteSpace(image.GetString()))
                throw new InvalidDataException($"{where}: \"image\" must be a non-empty string (a path)");
            string imagePath = ResolveImage(image.GetString()!, baseFolder, where);

            if (!root.TryGetProperty("region", out var region) || region.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
                throw new InvalidDataException($"{where}: missing \"region\"");

            string? instruction = null;
            if (root.TryGetProperty("instruction", out var instr))
            {
                instruction = instr.ValueKind switch
                {
                    JsonValueKind.String => instr.GetString(),
                    JsonValueKind.Null => null,
                    _ => throw new InvalidDataException($"{where}: \"instruction\" must be a string"),
                };
            }
            // Clone: the element must outlive this line's JsonDocument.
            return new BatchInputItem(id, imagePath, region.Clone(), instruction, line.Number)
            {
                IdIsNumber = root.GetProperty("id").ValueKind == JsonValueKind.Number,
            };
        }
    }

    static string ResolveImage(string image, string baseFolder, string where)
    {
        try
        {
            return Path.IsPathRooted(image) ? Path.GetFullPath(image) : Path.GetFullPath(Path.Combine(baseFolder, image));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new InvalidDataException($"{where}: \"image\" is not a usable path ({e.Message})", e);
        }
    }
}
