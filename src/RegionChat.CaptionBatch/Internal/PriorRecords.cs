using System.Text.Json;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>Reads what an earlier run left in the output/errors files: which of the job's ids ended as error records
/// (the writers themselves keep only ids; a restarted job still exits non-zero while failures are on file), and which
/// kinds of result they hold ("caption", "labels", "embedding": the field each task writes) and the models that wrote them.</summary>
internal static class PriorRecords
{
    static readonly string[] ResultFields = ["caption", "labels", "embedding"];

    public static (int Errors, IReadOnlySet<string> Kinds, IReadOnlySet<string> Models) Read(IEnumerable<string?> paths, IReadOnlySet<string> ids)
    {
        var failed = new HashSet<string>(StringComparer.Ordinal);
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        var models = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (path == null || !File.Exists(path)) continue;
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (IOException)
            {
                // Locked by another job: opening it for writing reports that clearly.
                continue;
            }
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0 || line[0] != '{') continue;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) continue;
                    foreach (string field in ResultFields)
                        if (root.TryGetProperty(field, out _)) kinds.Add(field);
                    if (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String) models.Add(model.GetString()!);
                    if (!root.TryGetProperty("error", out _) || !root.TryGetProperty("id", out var id)) continue;
                    if (JsonlIds.FromElement(id) is { } text && ids.Contains(text)) failed.Add(text);
                }
                catch (JsonException)
                {
                    // A torn last line: the writer repairs it when it opens the file.
                }
            }
        }
        return (failed.Count, kinds, models);
    }

    /// <summary>The field the task's records hold.</summary>
    public static string ResultField(CaptionBatchTask task) => task switch
    {
        CaptionBatchTask.Classify => "labels",
        CaptionBatchTask.Embed => "embedding",
        _ => "caption",
    };
}
