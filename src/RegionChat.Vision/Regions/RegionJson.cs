using System.Text.Json;
using RegionChat.Vision.Imaging;

namespace RegionChat.Vision.Regions;

/// <summary>
/// Reads the JSON region description shared by the CLI, batch jobs and the server. One region is an object with one kind key:
/// <code>
/// {"mask": "path.png"}                                   mask image, path relative to the base directory
/// {"box": [x0,y0,x1,y1]}  + optional "normalized": true  pixels, or fractions 0–1 of the image size
/// {"polygon": [x,y,x,y,…]} + optional "fill": "evenodd"|"nonzero"   (also [[x,y],…])
/// {"rle": {"size": [h,w], "counts": "…" | [n,…]}}        COCO RLE, compressed string or plain counts
/// {"scribble": {"points": [x,y,…], "width": w}}          stroke of width w pixels
/// {"whole": true}
/// </code>
/// A JSON array of such objects is their union. Unknown keys are errors (a typo should not silently mean "whole image").
/// </summary>
public static class RegionJson
{
    static readonly string[] Kinds = ["mask", "box", "polygon", "rle", "scribble", "whole"];

    /// <summary>Parses a region description; relative mask paths resolve against <paramref name="baseDirectory"/> (default: current).</summary>
    public static Region Parse(string json, string? baseDirectory = null, ImageLimits? limits = null)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidRegionException("region", InvalidRegionReason.Malformed, $"not valid JSON: {e.Message}", e);
        }
        using (doc) return Parse(doc.RootElement, baseDirectory, limits);
    }

    /// <summary>Parses a region from a JSON file; relative mask paths resolve against the file's folder.</summary>
    public static Region ParseFile(string path, ImageLimits? limits = null)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidRegionException("region", InvalidRegionReason.Unreadable, $"cannot read region file '{path}': {e.Message}", e);
        }
        return Parse(json, Path.GetDirectoryName(Path.GetFullPath(path)), limits);
    }

    public static Region Parse(JsonElement element, string? baseDirectory = null, ImageLimits? limits = null)
    {
        baseDirectory ??= Directory.GetCurrentDirectory();
        if (element.ValueKind == JsonValueKind.Array)
        {
            var parts = new List<Region>();
            int k = 0;
            foreach (var item in element.EnumerateArray())
            {
                try
                {
                    if (item.ValueKind == JsonValueKind.Array)
                        throw Malformed("region", "a union holds region objects, not nested arrays");
                    parts.Add(ParseObject(item, baseDirectory, limits));
                }
                catch (InvalidRegionException e)
                {
                    throw e.Under($"[{k}]");
                }
                k++;
            }
            return new UnionRegion(parts);
        }
        return ParseObject(element, baseDirectory, limits);
    }

    /// <summary>Parses a bare COCO RLE object {"size": [h,w], "counts": …}.</summary>
    public static CocoRle ParseRle(JsonElement element, string field = "rle")
    {
        RequireKind(element, JsonValueKind.Object, field, "an object {\"size\": [h, w], \"counts\": …}");
        RequireOnly(element, field, "size", "counts");
        var size = Numbers(Get(element, "size", field), $"{field}.size");
        if (size.Count != 2) throw Malformed($"{field}.size", $"needs [height, width], got {size.Count} values");
        int h = Dimension(size[0], $"{field}.size"), w = Dimension(size[1], $"{field}.size");
        var counts = Get(element, "counts", field);
        if (counts.ValueKind == JsonValueKind.String) return CocoRle.FromString(h, w, counts.GetString()!, field);
        if (counts.ValueKind == JsonValueKind.Array)
            return new CocoRle(h, w, Numbers(counts, $"{field}.counts").Select(c => Integer(c, $"{field}.counts")).ToArray(), field);
        throw Malformed($"{field}.counts", "must be a compressed string or a list of integers");
    }

    static Region ParseObject(JsonElement e, string baseDirectory, ImageLimits? limits)
    {
        RequireKind(e, JsonValueKind.Object, "region", "an object such as {\"box\": [x0,y0,x1,y1]} or an array of them");
        var kinds = e.EnumerateObject().Select(p => p.Name).Where(n => Kinds.Contains(n)).ToList();
        if (kinds.Count != 1)
            throw Malformed("region", kinds.Count == 0
                ? $"needs one of the keys {string.Join(", ", Kinds)}"
                : $"has several kinds ({string.Join(", ", kinds)}); use an array for a union");
        string kind = kinds[0];
        var value = e.GetProperty(kind);
        switch (kind)
        {
            case "mask":
                RequireOnly(e, "region", "mask");
                RequireKind(value, JsonValueKind.String, "mask", "a file path");
                return MaskRegion.Load(Path.Combine(baseDirectory, value.GetString()!), limits);
            case "box":
            {
                RequireOnly(e, "region", "box", "normalized");
                var v = Numbers(value, "box");
                if (v.Count != 4) throw Malformed("box", $"needs [x0, y0, x1, y1], got {v.Count} values");
                bool normalized = e.TryGetProperty("normalized", out var n) && Bool(n, "normalized");
                return new BoxRegion(v[0], v[1], v[2], v[3], normalized);
            }
            case "polygon":
            {
                RequireOnly(e, "region", "polygon", "fill");
                var fill = FillRule.EvenOdd;
                if (e.TryGetProperty("fill", out var f))
                    fill = f.ValueKind == JsonValueKind.String ? f.GetString()!.ToLowerInvariant() switch
                    {
                        "evenodd" or "even-odd" => FillRule.EvenOdd,
                        "nonzero" or "non-zero" => FillRule.NonZero,
                        _ => throw Malformed("fill", $"must be \"evenodd\" or \"nonzero\", got \"{f.GetString()}\""),
                    } : throw Malformed("fill", "must be \"evenodd\" or \"nonzero\"");
                return new PolygonRegion(Points(value, "polygon"), fill);
            }
            case "rle":
                RequireOnly(e, "region", "rle");
                return new RleRegion(ParseRle(value));
            case "scribble":
                RequireOnly(e, "region", "scribble");
                RequireKind(value, JsonValueKind.Object, "scribble", "an object {\"points\": [x,y,…], \"width\": w}");
                RequireOnly(value, "scribble", "points", "width");
                return new ScribbleRegion(Points(Get(value, "points", "scribble"), "scribble.points"),
                    Numbers(Get(value, "width", "scribble"), "scribble.width", single: true)[0]);
            default: // whole
                RequireOnly(e, "region", "whole");
                if (!Bool(value, "whole")) throw Malformed("whole", "only true is meaningful; omit the region for the whole image");
                return WholeImageRegion.Instance;
        }
    }

    static InvalidRegionException Malformed(string field, string description) => new(field, InvalidRegionReason.Malformed, description);

    static void RequireKind(JsonElement e, JsonValueKind kind, string field, string expected)
    {
        if (e.ValueKind != kind) throw Malformed(field, $"must be {expected}, got {Describe(e)}");
    }

    static void RequireOnly(JsonElement obj, string field, params string[] allowed)
    {
        foreach (var p in obj.EnumerateObject())
            if (!allowed.Contains(p.Name))
                throw Malformed(field, $"unknown key \"{p.Name}\" (allowed here: {string.Join(", ", allowed)})");
    }

    static JsonElement Get(JsonElement obj, string name, string field) =>
        obj.TryGetProperty(name, out var v) ? v : throw Malformed(field, $"missing \"{name}\"");

    static bool Bool(JsonElement e, string field) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Malformed(field, $"must be true or false, got {Describe(e)}"),
    };

    static List<double> Numbers(JsonElement e, string field, bool single = false)
    {
        if (single)
            return e.ValueKind == JsonValueKind.Number ? [e.GetDouble()] : throw Malformed(field, $"must be a number, got {Describe(e)}");
        RequireKind(e, JsonValueKind.Array, field, "a list of numbers");
        var list = new List<double>();
        foreach (var item in e.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number) throw Malformed(field, $"item {list.Count} must be a number, got {Describe(item)}");
            list.Add(item.GetDouble());
        }
        return list;
    }

    /// <summary>Flat [x,y,x,y,…] or pairs [[x,y],…].</summary>
    static RegionPoint[] Points(JsonElement e, string field)
    {
        RequireKind(e, JsonValueKind.Array, field, "a list of coordinates x,y,x,y,…");
        if (e.GetArrayLength() > 0 && e[0].ValueKind == JsonValueKind.Array)
        {
            var flat = new List<double>();
            foreach (var pair in e.EnumerateArray())
            {
                var xy = Numbers(pair, field);
                if (xy.Count != 2) throw Malformed(field, $"point {flat.Count / 2} must be [x, y], got {xy.Count} values");
                flat.AddRange(xy);
            }
            return RegionPoint.FromFlat(flat, field);
        }
        return RegionPoint.FromFlat(Numbers(e, field), field);
    }

    /// <summary>An integral JSON number (within ±2^53, where doubles are exact).</summary>
    static long Integer(double v, string field)
    {
        if (v != Math.Floor(v) || Math.Abs(v) > 9007199254740992.0) throw Malformed(field, $"{Region.Fmt(v)} is not an integer");
        return (long)v;
    }

    static int Dimension(double v, string field)
    {
        long n = Integer(v, field);
        return n is > 0 and <= int.MaxValue ? (int)n : throw Malformed(field, $"{n} is not a positive size");
    }

    static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string \"{e.GetString()}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };
}
