using System.Text.Json;

namespace RegionChat.Client;

/// <summary>
/// Reads the JSON region form the CLI and batch files use, so the same description works everywhere. One region is an
/// object with one kind key; an array of them is their union:
/// <code>
/// {"box": [x0,y0,x1,y1]}  + optional "normalized": true
/// {"polygon": [x,y,x,y,…]} + optional "fill": "evenodd"|"nonzero"   (points also as [[x,y],…])
/// {"scribble": {"points": [x,y,…], "width": w}}
/// {"rle": {"size": [h,w], "counts": "…" | [n,…]}}
/// {"mask": "path.png"}    a file (relative to baseDirectory), or a "data:image/png;base64,…" URL
/// {"whole": true}
/// </code>
/// Unknown keys are errors (a typo must not silently mean "whole image"). Errors are <see cref="ArgumentException"/>s that
/// name the offending key.
/// </summary>
public static class ImageRegionJson
{
    static readonly string[] Kinds = ["mask", "box", "polygon", "rle", "scribble", "whole"];

    /// <summary>Parses a region; relative mask paths resolve against <paramref name="baseDirectory"/> (default: current).</summary>
    public static ImageRegion Parse(string json, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            return Parse(doc.RootElement, baseDirectory);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"region: not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>As <see cref="Parse(string, string?)"/>, for a parsed JSON element.</summary>
    public static ImageRegion Parse(JsonElement element, string? baseDirectory = null)
    {
        if (element.ValueKind != JsonValueKind.Array) return ParseObject(element, baseDirectory);
        var parts = new List<ImageRegion>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Array) throw Bad($"region[{parts.Count}]", "a union holds region objects, not nested arrays");
            try { parts.Add(ParseObject(item, baseDirectory)); }
            catch (ArgumentException e) { throw new ArgumentException($"region[{parts.Count}]: {e.Message}", e); }
        }
        return ImageRegion.Union(parts);
    }

    static ImageRegion ParseObject(JsonElement e, string? baseDirectory)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad("region", $"must be an object such as {{\"box\": [x0,y0,x1,y1]}} or an array of them, got {Describe(e)}");
        var kinds = e.EnumerateObject().Select(p => p.Name).Where(Kinds.Contains).ToList();
        if (kinds.Count != 1)
            throw Bad("region", kinds.Count == 0
                ? $"needs one of the keys {string.Join(", ", Kinds)}"
                : $"has several kinds ({string.Join(", ", kinds)}); use an array for a union");
        var value = e.GetProperty(kinds[0]);
        switch (kinds[0])
        {
            case "box":
            {
                Only(e, "box", "normalized");
                var v = Numbers(value, "box");
                if (v.Count != 4) throw Bad("box", $"needs [x0, y0, x1, y1], got {v.Count} values");
                bool normalized = e.TryGetProperty("normalized", out var n) && Bool(n, "normalized");
                return new RegionBox(v[0], v[1], v[2], v[3], normalized);
            }
            case "polygon":
            {
                Only(e, "polygon", "fill");
                bool nonZero = false;
                if (e.TryGetProperty("fill", out var f))
                    nonZero = (f.ValueKind == JsonValueKind.String ? f.GetString()!.ToLowerInvariant() : null) switch
                    {
                        "evenodd" or "even-odd" => false,
                        "nonzero" or "non-zero" => true,
                        _ => throw Bad("fill", $"must be \"evenodd\" or \"nonzero\", got {Describe(f)}"),
                    };
                return new RegionPolygon(Points(value, "polygon"), nonZero);
            }
            case "scribble":
            {
                Only(e, "scribble");
                if (value.ValueKind != JsonValueKind.Object) throw Bad("scribble", "must be an object {\"points\": [x,y,…], \"width\": w}");
                Only(value, "points", "width");
                if (!value.TryGetProperty("width", out var w) || w.ValueKind != JsonValueKind.Number) throw Bad("scribble.width", "must be a number");
                return new RegionScribble(Points(Get(value, "points", "scribble"), "scribble.points"), w.GetSingle());
            }
            case "rle":
            {
                Only(e, "rle");
                if (value.ValueKind != JsonValueKind.Object) throw Bad("rle", "must be an object {\"size\": [h, w], \"counts\": …}");
                Only(value, "size", "counts");
                var size = Numbers(Get(value, "size", "rle"), "rle.size");
                if (size.Count != 2 || size.Any(s => s < 1 || s != MathF.Floor(s))) throw Bad("rle.size", "needs [height, width] as positive integers");
                var counts = Get(value, "counts", "rle");
                return counts.ValueKind switch
                {
                    JsonValueKind.String => new RegionRle((int)size[0], (int)size[1], counts.GetString(), null),
                    JsonValueKind.Array => new RegionRle((int)size[0], (int)size[1], null,
                        counts.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.Number && c.TryGetUInt32(out uint u) ? u
                            : throw Bad("rle.counts", $"must be non-negative integers, got {Describe(c)}")).ToArray()),
                    _ => throw Bad("rle.counts", "must be a compressed string or a list of integers"),
                };
            }
            case "mask":
                Only(e, "mask");
                if (value.ValueKind != JsonValueKind.String) throw Bad("mask", "must be a file path or a data URL");
                return new RegionMask(MaskBytes(value.GetString()!, baseDirectory));
            default: // whole
                Only(e, "whole");
                if (!Bool(value, "whole")) throw Bad("whole", "only true is meaningful; omit the region for the whole image");
                return ImageRegion.Whole;
        }
    }

    static byte[] MaskBytes(string source, string? baseDirectory)
    {
        if (source.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = source.IndexOf(',');
            if (comma < 0 || !source[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
                throw Bad("mask", "a data URL must be base64 (data:image/png;base64,…)");
            try { return Convert.FromBase64String(source[(comma + 1)..]); }
            catch (FormatException) { throw Bad("mask", "the data URL's base64 is malformed"); }
        }
        string path = Path.Combine(baseDirectory ?? Directory.GetCurrentDirectory(), source);
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new ArgumentException($"mask: cannot read '{path}': {e.Message}", e);
        }
    }

    static ArgumentException Bad(string field, string description) => new($"{field}: {description}");

    static void Only(JsonElement obj, params string[] allowed)
    {
        foreach (var p in obj.EnumerateObject())
            if (!allowed.Contains(p.Name)) throw Bad(allowed[0], $"unknown key \"{p.Name}\" (allowed here: {string.Join(", ", allowed)})");
    }

    static JsonElement Get(JsonElement obj, string name, string field) =>
        obj.TryGetProperty(name, out var v) ? v : throw Bad(field, $"missing \"{name}\"");

    static bool Bool(JsonElement e, string field) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(field, $"must be true or false, got {Describe(e)}"),
    };

    static List<float> Numbers(JsonElement e, string field)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Bad(field, $"must be a list of numbers, got {Describe(e)}");
        return e.EnumerateArray().Select((item, i) => item.ValueKind == JsonValueKind.Number ? item.GetSingle()
            : throw Bad(field, $"item {i} must be a number, got {Describe(item)}")).ToList();
    }

    /// <summary>Flat [x,y,x,y,…] or pairs [[x,y],…].</summary>
    static List<(float X, float Y)> Points(JsonElement e, string field)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Bad(field, $"must be a list of coordinates x,y,x,y,…, got {Describe(e)}");
        var flat = new List<float>();
        if (e.GetArrayLength() > 0 && e[0].ValueKind == JsonValueKind.Array)
            foreach (var pair in e.EnumerateArray())
            {
                var xy = Numbers(pair, field);
                if (xy.Count != 2) throw Bad(field, $"point {flat.Count / 2} must be [x, y], got {xy.Count} values");
                flat.AddRange(xy);
            }
        else flat = Numbers(e, field);
        if (flat.Count % 2 != 0) throw Bad(field, $"needs x, y pairs, got {flat.Count} numbers");
        return Enumerable.Range(0, flat.Count / 2).Select(i => (flat[2 * i], flat[2 * i + 1])).ToList();
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
