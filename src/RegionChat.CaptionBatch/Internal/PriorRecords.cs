using System.Text.Json;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>Reads what an earlier run left in the output/errors files: which of the job's ids ended as error records.
/// (The writers themselves keep only ids; a restarted job still exits non-zero while failures are on file.)</summary>
internal static class PriorRecords
{
    public static int CountErrors(IEnumerable<string?> paths, IReadOnlySet<string> ids)
    {
        var failed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (path == null || !File.Exists(path)) continue;
            foreach (var line in File.ReadLines(path))
            {
                if (line.Length == 0 || line[0] != '{') continue;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out _)) continue;
                    if (!root.TryGetProperty("id", out var id)) continue;
                    string? text = id.ValueKind switch
                    {
                        JsonValueKind.String => id.GetString(),
                        JsonValueKind.Number => id.GetRawText(),
                        _ => null,
                    };
                    if (text != null && ids.Contains(text)) failed.Add(text);
                }
                catch (JsonException)
                {
                    // A torn last line: the writer repairs it when it opens the file.
                }
            }
        }
        return failed.Count;
    }
}
