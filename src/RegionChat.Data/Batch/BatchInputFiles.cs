using System.Text.Json;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.Data.Batch;

/// <summary>The two input formats of a batch job.</summary>
public enum BatchInputFormat
{
    /// <summary>One <c>{"id", "image", "region", "instruction"?}</c> per line (<see cref="BatchInputReader"/>).</summary>
    Jsonl,
    /// <summary>A COCO <c>images</c> + <c>annotations</c> file (<see cref="CocoInputReader"/>).</summary>
    Coco,
}

/// <summary>Reads a batch job's input in either format, telling them apart by the first line.</summary>
public static class BatchInputFiles
{
    /// <summary>
    /// JSONL when the first non-blank line is a whole JSON object without "images" / "annotations"; otherwise COCO
    /// (a pretty-printed COCO file's first line is not a whole object; a one-line one has those keys).
    /// </summary>
    public static BatchInputFormat Detect(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"batch input {full} not found", full);
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var reader = new JsonlLineReader(stream);
        while (reader.TryRead(out var line))
        {
            if (line.IsBlank) continue;
            if (line.TooLong) return BatchInputFormat.Coco;
            try
            {
                using var doc = JsonDocument.Parse(line.Bytes);
                var root = doc.RootElement;
                return root.ValueKind == JsonValueKind.Object && (root.TryGetProperty("annotations", out _) || root.TryGetProperty("images", out _))
                    ? BatchInputFormat.Coco
                    : BatchInputFormat.Jsonl;
            }
            catch (JsonException)
            {
                return BatchInputFormat.Coco;
            }
        }
        throw new InvalidDataException($"batch input {full} is empty");
    }

    /// <summary>Reads the items of <paramref name="path"/> in its detected format. <paramref name="regionSource"/> and
    /// <paramref name="imageRoot"/> apply to COCO input; for JSONL input they must be left at their defaults.</summary>
    /// <exception cref="ArgumentException">A COCO-only choice given for JSONL input.</exception>
    public static (BatchInputFormat Format, IReadOnlyList<BatchInputItem> Items) Read(string path,
        CocoRegionSource regionSource = CocoRegionSource.Mask, string? imageRoot = null)
    {
        var format = Detect(path);
        if (format == BatchInputFormat.Jsonl)
        {
            if (regionSource != CocoRegionSource.Mask)
                throw new ArgumentException("--region-from box applies to COCO input; a JSONL line names its own region (use {\"box\": …} there)");
            if (imageRoot != null)
                throw new ArgumentException("--image-root applies to COCO input; JSONL image paths are relative to the input file");
            return (format, BatchInputReader.ReadFile(path));
        }
        return (format, CocoInputReader.ReadFile(path, regionSource, imageRoot));
    }
}
