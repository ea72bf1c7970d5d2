using System.Text.Json.Nodes;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>What --task classify and --task embed share between the in-process and the server paths.</summary>
internal static class BatchClassify
{
    /// <summary>A refusal about the job's labels (or top), or a model without a classifier: not the item's fault, and
    /// every item would fail alike, so the job stops. <paramref name="fields"/> may carry the stream's "request." prefix.</summary>
    public static bool IsJobWide(bool invalidArgument, bool failedPrecondition, IEnumerable<string> fields) =>
        failedPrecondition || (invalidArgument && fields.Select(f => f.StartsWith("request.", StringComparison.Ordinal) ? f[8..] : f)
            .Any(f => f.StartsWith("labels", StringComparison.Ordinal) || f == "top"));

    /// <summary>The job's stop message, naming the option to change.</summary>
    public static string JobWideMessage(CaptionBatchTask task, string message, IEnumerable<(string Field, string Description)> violations)
    {
        var labels = violations.FirstOrDefault(v => v.Field.Contains("labels[", StringComparison.Ordinal));
        if (labels.Field != null && int.TryParse(labels.Field[(labels.Field.IndexOf('[') + 1)..].TrimEnd(']'), out int i))
            return $"--labels-file: label {i + 1}: {labels.Description}";
        return $"{(task == CaptionBatchTask.Embed ? "embedding" : "the classification")} cannot run: {message}";
    }

    public static JsonObject Timings(double totalMs, double imageDecodeMs, double visionEncodeMs, double textEncodeMs, int textCacheHits) => new()
    {
        ["total_ms"] = ServerLane.Round(totalMs),
        ["image_decode_ms"] = ServerLane.Round(imageDecodeMs),
        ["vision_encode_ms"] = ServerLane.Round(visionEncodeMs),
        ["text_encode_ms"] = ServerLane.Round(textEncodeMs),
        ["text_cache_hits"] = textCacheHits,
    };

    /// <summary>An embedded region's timings (no text is encoded).</summary>
    public static JsonObject EmbedTimings(double totalMs, double imageDecodeMs, double visionEncodeMs) => new()
    {
        ["total_ms"] = ServerLane.Round(totalMs),
        ["image_decode_ms"] = ServerLane.Round(imageDecodeMs),
        ["vision_encode_ms"] = ServerLane.Round(visionEncodeMs),
    };
}
