using System.Globalization;
using System.Text.Json;

namespace RegionChat.Data.Regions.Internal;

/// <summary>The grammar of <see cref="RegionDescription"/>'s JSON form: checks the form and names the field that is wrong.</summary>
internal static class RegionJsonParser
{
    static readonly string[] Kinds = ["mask", "box", "polygon", "rle", "scribble", "whole"];

    public static RegionDescription Parse(string json, string? baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidRegionException("region", InvalidRegionReason.Malformed, $"not valid JSON: {e.Message}", e);
        }
        using (doc) return Parse(doc.RootElement, baseDirectory);
    }

    public static RegionDescription ParseFile(string path)
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
        return Parse(json, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <param name="budget">When given, point and run lists longer than it allows are refused by their length, before
    /// they are copied out (a large request body could hold millions of numbers).</param>
    public static RegionDescription Parse(JsonElement element, string? baseDirectory, RegionBudget? budget = null)
    {
        baseDirectory ??= Directory.GetCurrentDirectory();
        if (element.ValueKind != JsonValueKind.Array) return ParseObject(element, baseDirectory, budget);
        var parts = new List<RegionDescription>();
        foreach (var item in element.EnumerateArray())
        {
            try
            {
                if (item.ValueKind == JsonValueKind.Array) throw Malformed("region", "a union holds region objects, not nested arrays");
                parts.Add(ParseObject(item, baseDirectory, budget));
            }
            catch (InvalidRegionException e)
            {
                throw e.Under($"[{parts.Count}]");
            }
        }
        return new RegionDescription.Union(parts);
    }

    public static RegionDescription.Rle ParseRle(JsonElement element, string field, RegionBudget? budget = null)
    {
        RequireKind(element, JsonValueKind.Object, field, "an object {\"size\": [h, w], \"counts\": …}");
        RequireOnly(element, field, "size", "counts");
        var size = Numbers(Get(element, "size", field), $"{field}.size");
        if (size.Count != 2) throw Malformed($"{field}.size", $"needs [height, width], got {size.Count} values");
        int h = Dimension(size[0], $"{field}.size"), w = Dimension(size[1], $"{field}.size");
        var counts = Get(element, "counts", field);
        if (counts.ValueKind == JsonValueKind.String) return new RegionDescription.Rle(h, w, Text(counts, $"{field}.counts"), null);
        if (counts.ValueKind == JsonValueKind.Array)
        {
            budget?.Start().RleRuns($"{field}.counts", counts.GetArrayLength());
            var values = Numbers(counts, $"{field}.counts");
            var list = new long[values.Count];
            for (int i = 0; i < list.Length; i++)
            {
                list[i] = Integer(values[i], $"{field}.counts");
                if (list[i] < 0) throw Malformed($"{field}.counts", $"count {i} is negative ({list[i]})");
            }
            return new RegionDescription.Rle(h, w, null, list);
        }
        throw Malformed($"{field}.counts", "must be a compressed string or a list of integers");
    }

    static RegionDescription ParseObject(JsonElement e, string baseDirectory, RegionBudget? budget)
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
                RequireKind(value, JsonValueKind.String, "mask", "a file path or a data URL");
                return Mask(Text(value, "mask"), baseDirectory);
            case "box":
            {
                RequireOnly(e, "region", "box", "normalized");
                var v = Numbers(value, "box");
                if (v.Count != 4) throw Malformed("box", $"needs [x0, y0, x1, y1], got {v.Count} values");
                bool normalized = e.TryGetProperty("normalized", out var n) && Bool(n, "normalized");
                return new RegionDescription.Box(v[0], v[1], v[2], v[3], normalized);
            }
            case "polygon":
            {
                RequireOnly(e, "region", "polygon", "fill");
                bool nonZero = false;
                if (e.TryGetProperty("fill", out var f))
                    nonZero = f.ValueKind == JsonValueKind.String ? Text(f, "fill").ToLowerInvariant() switch
                    {
                        "evenodd" or "even-odd" => false,
                        "nonzero" or "non-zero" => true,
                        _ => throw Malformed("fill", $"must be \"evenodd\" or \"nonzero\", got {f.GetRawText()}"),
                    } : throw Malformed("fill", "must be \"evenodd\" or \"nonzero\"");
                return new RegionDescription.Polygon(Points(value, "polygon", budget), nonZero);
            }
            case "rle":
                RequireOnly(e, "region", "rle");
                return ParseRle(value, "rle", budget);
            case "scribble":
                RequireOnly(e, "region", "scribble");
                RequireKind(value, JsonValueKind.Object, "scribble", "an object {\"points\": [x,y,…], \"width\": w}");
                RequireOnly(value, "scribble", "points", "width");
                var points = Points(Get(value, "points", "scribble"), "scribble.points", budget);
                var width = Get(value, "width", "scribble");
                if (width.ValueKind != JsonValueKind.Number) throw Malformed("scribble.width", $"must be a number, got {Describe(width)}");
                return new RegionDescription.Scribble(points, width.GetDouble());
            default: // whole
                RequireOnly(e, "region", "whole");
                if (!Bool(value, "whole")) throw Malformed("whole", "only true is meaningful; omit the region for the whole image");
                return RegionDescription.Whole.Instance;
        }
    }

    /// <summary>A data URL is decoded here; a path is only resolved (the reader of the description opens the file).</summary>
    static RegionDescription Mask(string source, string baseDirectory)
    {
        if (!source.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            return new RegionDescription.MaskFile(Path.Combine(baseDirectory, source));
        int comma = source.IndexOf(',');
        if (comma < 0 || !source[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw Malformed("mask", "a data URL must be base64 (data:image/png;base64,…)");
        try
        {
            return new RegionDescription.MaskBytes(Convert.FromBase64String(source[(comma + 1)..]));
        }
        catch (FormatException)
        {
            throw Malformed("mask", "the data URL's base64 is malformed");
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

    static List<double> Numbers(JsonElement e, string field)
    {
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
    static (double X, double Y)[] Points(JsonElement e, string field, RegionBudget? budget)
    {
        RequireKind(e, JsonValueKind.Array, field, "a list of coordinates x,y,x,y,…");
        int length = e.GetArrayLength();
        budget?.Start().Points(field, length > 0 && e[0].ValueKind == JsonValueKind.Array ? length : length / 2);
        List<double> flat;
        if (e.GetArrayLength() > 0 && e[0].ValueKind == JsonValueKind.Array)
        {
            flat = [];
            foreach (var pair in e.EnumerateArray())
            {
                var xy = Numbers(pair, field);
                if (xy.Count != 2) throw Malformed(field, $"point {flat.Count / 2} must be [x, y], got {xy.Count} values");
                flat.AddRange(xy);
            }
        }
        else flat = Numbers(e, field);
        if (flat.Count % 2 != 0) throw Malformed(field, $"needs x, y pairs but has an odd number of values ({flat.Count})");
        var points = new (double X, double Y)[flat.Count / 2];
        for (int i = 0; i < points.Length; i++) points[i] = (flat[2 * i], flat[2 * i + 1]);
        return points;
    }

    /// <summary>An integral JSON number (within ±2^53, where doubles are exact).</summary>
    static long Integer(double v, string field)
    {
        if (v != Math.Floor(v) || Math.Abs(v) > 9007199254740992.0)
            throw Malformed(field, $"{v.ToString("0.###", CultureInfo.InvariantCulture)} is not an integer");
        return (long)v;
    }

    static int Dimension(double v, string field)
    {
        long n = Integer(v, field);
        return n is > 0 and <= int.MaxValue ? (int)n : throw Malformed(field, $"{n} is not a positive size");
    }

    /// <summary>A string value; an escaped lone surrogate ("\ud800") is valid JSON but not text, refused by field.</summary>
    static string Text(JsonElement e, string field)
    {
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Malformed(field, "is not valid Unicode text (it holds an unpaired surrogate escape)");
        }
    }

    static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string {e.GetRawText()}",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };
}
