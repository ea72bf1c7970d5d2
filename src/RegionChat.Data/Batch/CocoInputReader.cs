using System.Text.Json;
using RegionChat.Data.Batch.Internal;

namespace RegionChat.Data.Batch;

/// <summary>Which part of a COCO annotation becomes the captioned region.</summary>
public enum CocoRegionSource
{
    /// <summary>The segmentation: polygons (several = their union) or an RLE, compressed or not.</summary>
    Mask,
    /// <summary>The <c>bbox</c> [x, y, width, height].</summary>
    Box,
}

/// <summary>
/// Reads a COCO-style JSON file (<c>images</c> + <c>annotations</c>) as batch items: one item per annotation, id = the
/// annotation's id, image = its image's <c>file_name</c>, region = its segmentation or its bbox.
/// </summary>
/// <remarks>
/// <para>The region comes out in the JSONL input's region form, so both inputs go through the same region parser:
/// one polygon is <c>{"polygon": […]}</c>, several are a union <c>[{"polygon": …}, …]</c>, an RLE is
/// <c>{"rle": {"size", "counts"}}</c> (its size is checked against the image when it is drawn), a bbox [x, y, w, h] is
/// <c>{"box": [x, y, x+w, y+h]}</c>. Polygon coordinates and counts are not checked here: a bad one fails its item.</para>
/// <para>Structural problems (not JSON, no annotations, an annotation without id, image or the chosen region field,
/// a duplicate annotation id, an image_id with no image) fail the whole file with an
/// <see cref="InvalidDataException"/> naming the annotation.</para>
/// </remarks>
public static class CocoInputReader
{
    /// <summary>Largest COCO file read (the whole document is parsed in memory).</summary>
    public const long MaxFileBytes = 2L << 30;

    /// <summary>Reads <paramref name="path"/>; <c>file_name</c>s resolve against <paramref name="imageRoot"/>
    /// (default: the file's folder).</summary>
    /// <exception cref="InvalidDataException">The file is not a usable COCO annotation file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<BatchInputItem> ReadFile(string path, CocoRegionSource source = CocoRegionSource.Mask, string? imageRoot = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists) throw new FileNotFoundException($"COCO input {full} not found", full);
        if (info.Length > MaxFileBytes) throw new InvalidDataException($"{full}: {info.Length} bytes, more than the {MaxFileBytes} a COCO input may have");
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(stream, full, imageRoot is null ? Path.GetDirectoryName(full)! : Path.GetFullPath(imageRoot), source);
    }

    /// <summary>Reads from a stream; <paramref name="imageRoot"/> resolves the images' file names.</summary>
    public static IReadOnlyList<BatchInputItem> Read(Stream stream, string sourceName, string imageRoot, CocoRegionSource source = CocoRegionSource.Mask)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{sourceName}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{sourceName}: a COCO file is a JSON object with \"images\" " +
                "and \"annotations\"");
            var images = ReadImages(root, sourceName, imageRoot);
            if (!root.TryGetProperty("annotations", out var annotations) || annotations.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{sourceName}: \"annotations\" must be an array");

            var items = new List<BatchInputItem>(annotations.GetArrayLength());
            var seen = new HashSet<string>(StringComparer.Ordinal);
            int index = 0;
            foreach (var a in annotations.EnumerateArray())
            {
                index++;
                string where = $"{sourceName} annotation #{index}";
                if (a.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
                string id = (a.TryGetProperty("id", out var idElement) ? JsonlIds.FromElement(idElement) : null)
                    ?? throw new InvalidDataException($"{where}: \"id\" must be a non-empty string or an integer");
                where = $"{sourceName} annotation {JsonlIds.Quote(id)}";
                if (!seen.Add(id)) throw new InvalidDataException($"{where}: the id is used by another annotation");
                string imageId = (a.TryGetProperty("image_id", out var imageElement) ? JsonlIds.FromElement(imageElement) : null)
                    ?? throw new InvalidDataException($"{where}: \"image_id\" must be a non-empty string or an integer");
                if (!images.TryGetValue(imageId, out string? imagePath))
                    throw new InvalidDataException($"{where}: image_id {JsonlIds.Quote(imageId)} is not in \"images\"");
                var region = source == CocoRegionSource.Box ? BoxRegion(a, where) : MaskRegion(a, where);
                items.Add(new BatchInputItem(id, imagePath, region, null, index) { IdIsNumber = idElement.ValueKind == JsonValueKind.Number });
            }
            if (items.Count == 0) throw new InvalidDataException($"{sourceName}: \"annotations\" is empty");
            return items;
        }
    }

    static Dictionary<string, string> ReadImages(JsonElement root, string sourceName, string imageRoot)
    {
        if (!root.TryGetProperty("images", out var images) || images.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{sourceName}: \"images\" must be an array");
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        int index = 0;
        foreach (var image in images.EnumerateArray())
        {
            index++;
            string where = $"{sourceName} image #{index}";
            if (image.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
            string id = (image.TryGetProperty("id", out var idElement) ? JsonlIds.FromElement(idElement) : null)
                ?? throw new InvalidDataException($"{where}: \"id\" must be a non-empty string or an integer");
            if (!image.TryGetProperty("file_name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetString()))
                throw new InvalidDataException($"{where}: \"file_name\" must be a non-empty string");
            string file;
            try
            {
                file = Path.GetFullPath(Path.Combine(imageRoot, name.GetString()!));
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                throw new InvalidDataException($"{where}: \"file_name\" is not a usable path ({e.Message})", e);
            }
            if (!byId.TryAdd(id, file)) throw new InvalidDataException($"{where}: id {JsonlIds.Quote(id)} is used by another image");
        }
        return byId;
    }

    static JsonElement BoxRegion(JsonElement annotation, string where)
    {
        if (!annotation.TryGetProperty("bbox", out var bbox) || bbox.ValueKind != JsonValueKind.Array || bbox.GetArrayLength() != 4
            || bbox.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
            throw new InvalidDataException($"{where}: \"bbox\" must be [x, y, width, height]");
        double x = bbox[0].GetDouble(), y = bbox[1].GetDouble(), w = bbox[2].GetDouble(), h = bbox[3].GetDouble();
        return Build(writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("box");
            foreach (double v in (double[])[x, y, x + w, y + h]) writer.WriteNumberValue(v);
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    static JsonElement MaskRegion(JsonElement annotation, string where)
    {
        if (!annotation.TryGetProperty("segmentation", out var segmentation) || segmentation.ValueKind is JsonValueKind.Null)
            throw new InvalidDataException($"{where}: no \"segmentation\" (caption its box with --region-from box)");
        switch (segmentation.ValueKind)
        {
            case JsonValueKind.Object: // RLE; the region parser checks size and counts
                return Build(writer =>
                {
                    writer.WriteStartObject();
                    writer.WritePropertyName("rle");
                    segmentation.WriteTo(writer);
                    writer.WriteEndObject();
                });
            case JsonValueKind.Array when segmentation.GetArrayLength() > 0:
            {
                var polygons = segmentation.EnumerateArray().ToArray();
                if (polygons.Any(p => p.ValueKind != JsonValueKind.Array))
                    throw new InvalidDataException($"{where}: \"segmentation\" must be a list of polygons [[x, y, …], …] or an RLE object");
                return Build(writer =>
                {
                    if (polygons.Length > 1) writer.WriteStartArray();
                    foreach (var polygon in polygons)
                    {
                        writer.WriteStartObject();
                        writer.WritePropertyName("polygon");
                        polygon.WriteTo(writer);
                        writer.WriteEndObject();
                    }
                    if (polygons.Length > 1) writer.WriteEndArray();
                });
            }
            default:
                throw new InvalidDataException($"{where}: \"segmentation\" is empty or not polygons / RLE (caption its box with --region-from box)");
        }
    }

    static JsonElement Build(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) write(writer);
        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }
}
