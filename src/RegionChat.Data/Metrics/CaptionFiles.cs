using System.Text.Json;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.Data.Metrics;

/// <summary>A candidate caption and its references as text, before tokenisation.</summary>
public sealed record CaptionTextItem(string Id, string Candidate, IReadOnlyList<string> References)
{
    /// <summary>Tokenises candidate and references with <paramref name="tokenize"/>.</summary>
    public CaptionItem Tokenize(Func<string, IReadOnlyList<string>> tokenize) =>
        new(Id, tokenize(Candidate), References.Select(tokenize).ToArray());
}

/// <summary>
/// Reads caption predictions (<c>{"id", "caption"}</c> per line) and references (<c>{"id", "references": [..]}</c>
/// per line) from JSONL files and pairs them by id.
/// </summary>
/// <remarks>Blank lines are skipped and other keys ignored. An id is a non-empty string or an integer.</remarks>
public static class CaptionFiles
{
    /// <summary>Reads both files and pairs them; items come in the predictions file's order.</summary>
    /// <exception cref="InvalidDataException">A malformed line (named by file and line number), a duplicate id, or
    /// ids present in only one of the files (all of them are named).</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    public static IReadOnlyList<CaptionTextItem> Load(string predictionsPath, string referencesPath)
    {
        var predictions = ReadPredictions(predictionsPath);
        var references = ReadReferences(referencesPath);

        var noReferences = predictions.Keys.Where(id => !references.ContainsKey(id)).ToList();
        var noPrediction = references.Keys.Where(id => !predictions.ContainsKey(id)).ToList();
        if (noReferences.Count > 0 || noPrediction.Count > 0)
        {
            var problems = new List<string>();
            if (noReferences.Count > 0)
                problems.Add($"{noReferences.Count} prediction id(s) have no references: {ListIds(noReferences)}");
            if (noPrediction.Count > 0)
                problems.Add($"{noPrediction.Count} reference id(s) have no prediction: {ListIds(noPrediction)}");
            throw new InvalidDataException(string.Join("; ", problems));
        }
        if (predictions.Count == 0) throw new InvalidDataException($"{Path.GetFullPath(predictionsPath)} holds no predictions");

        return predictions.Select(p => new CaptionTextItem(p.Key, p.Value, references[p.Key])).ToArray();
    }

    /// <summary>id → caption, in file order.</summary>
    public static IReadOnlyDictionary<string, string> ReadPredictions(string path) =>
        ReadById(path, (root, where) =>
        {
            if (!root.TryGetProperty("caption", out var caption) || caption.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{where}: \"caption\" must be a string");
            return caption.GetString()!;
        });

    /// <summary>id → reference captions, in file order.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ReadReferences(string path) =>
        ReadById<IReadOnlyList<string>>(path, (root, where) =>
        {
            if (!root.TryGetProperty("references", out var refs) || refs.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{where}: \"references\" must be an array of strings");
            var list = new List<string>();
            foreach (var r in refs.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{where}: \"references\" must be an array of strings");
                list.Add(r.GetString()!);
            }
            if (list.Count == 0) throw new InvalidDataException($"{where}: \"references\" is empty");
            return list;
        });

    static IReadOnlyDictionary<string, T> ReadById<T>(string path, Func<JsonElement, string, T> readValue)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"{full} not found", full);
        var result = new OrderedDictionary<string, T>(StringComparer.Ordinal);
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var reader = new JsonlLineReader(stream);
        while (reader.TryRead(out var line))
        {
            if (line.IsBlank) continue;
            string where = $"{full} line {line.Number}";
            if (line.TooLong) throw new InvalidDataException($"{where}: longer than {JsonlLineReader.DefaultMaxLineBytes} bytes");
            using (var doc = JsonlIds.ParseRecord(line.Bytes, where, out string id))
            {
                var root = doc.RootElement;
                if (firstLine.TryGetValue(id, out int first))
                    throw new InvalidDataException($"{where}: id {JsonlIds.Quote(id)} already used on line {first}");
                firstLine.Add(id, line.Number);
                result.Add(id, readValue(root, where));
            }
        }
        return result;
    }

    static string ListIds(List<string> ids)
    {
        const int Shown = 20;
        string shown = string.Join(", ", ids.Take(Shown).Select(JsonlIds.Quote));
        return ids.Count > Shown ? $"{shown}, … ({ids.Count - Shown} more)" : shown;
    }
}
