using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// The image and region options shared by the client verbs (`chat`, `caption`): `--image FILE` and at most one of
/// `--mask FILE | --box x0,y0,x1,y1 | --polygon x,y,… | --scribble "x,y,…;width" | --rle FILE.json | --region JSON`.
/// Every form is parsed into a <see cref="RegionDescription"/> (the one region grammar) and checked by drawing it
/// (<see cref="Region.From"/>), so a malformed region fails before any call. In-process paths draw it with
/// <see cref="Region.From"/>, server paths send <c>ImageRegion.From</c> of it: both see the same region.
/// </summary>
internal sealed class RegionArguments
{
    public Option<FileInfo?> Image { get; } = new("--image") { Description = "Image file (PNG, JPEG, WebP, BMP, GIF)." };
    public Option<FileInfo?> Mask { get; } = new("--mask") { Description = "Region as a mask image of the image's size (pixels >= 128 are inside; in " +
        "a 0/1 mask, the 1s)." };
    public Option<string?> Box { get; } = new("--box") { Description = "Region as a box x0,y0,x1,y1 in image pixels (with --normalized: " +
        "fractions of the size)." };
    public Option<bool> Normalized { get; } = new("--normalized") { Description = "--box coordinates are fractions of the image width/height." };
    public Option<string?> Polygon { get; } = new("--polygon") { Description = "Region as a filled polygon x,y,x,y,… (at least 3 points)." };
    public Option<string?> Scribble { get; } = new("--scribble") { Description = "Region as a brush stroke \"x,y,x,y,…;width\"." };
    public Option<FileInfo?> Rle { get; } = new("--rle") { Description = "Region as a COCO RLE JSON file {\"size\": [h, w], \"counts\": …} (or a COCO " +
        "annotation with \"segmentation\")." };
    public Option<string?> RegionJsonText { get; } = new("--region") { Description = "Region as JSON, e.g. '{\"box\": [10,10,40,40]}' or a union " +
        "'[{…},{…}]'; @FILE reads it from a file." };

    public IEnumerable<Option> All => [Image, Mask, Box, Normalized, Polygon, Scribble, Rle, RegionJsonText];

    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    /// <summary>The region the options give (null = none given: the whole image). Throws <see cref="ArgumentException"/>
    /// or <see cref="InvalidRegionException"/> with a clear message.</summary>
    public RegionDescription? ParseRegion(ParseResult parse)
    {
        var given = new List<(string Kind, string Value)>();
        if (parse.GetValue(Mask) is { } m) given.Add(("mask", m.FullName));
        if (parse.GetValue(Box) is { } b) given.Add(("box", b));
        if (parse.GetValue(Polygon) is { } p) given.Add(("polygon", p));
        if (parse.GetValue(Scribble) is { } s) given.Add(("scribble", s));
        if (parse.GetValue(Rle) is { } r) given.Add(("rle", r.FullName));
        if (parse.GetValue(RegionJsonText) is { } j) given.Add(("region", j));
        if (given.Count > 1)
            throw new ArgumentException($"give at most one region option; got {string.Join(", ", given.Select(g => "--" + g.Kind))}");
        if (given.Count == 0)
        {
            if (parse.GetValue(Normalized)) throw new ArgumentException("--normalized only applies to --box");
            return null;
        }
        return Parse(given[0].Kind, given[0].Value, parse.GetValue(Normalized));
    }

    /// <summary>One region from its kind (mask, box, polygon, scribble, rle, region, whole) and text, as the options and
    /// the interactive chat's /commands write it; checked as it will be drawn. Errors name it as the user wrote it:
    /// <paramref name="spelling"/> "--" for the options ("--box needs …"), "/" for the chat commands ("/box needs …").</summary>
    public static RegionDescription Parse(string kind, string value, bool normalized = false, string spelling = "--")
    {
        var description = Describe(kind, value, normalized, spelling + kind);
        _ = Region.From(description);
        return description;
    }

    static RegionDescription Describe(string kind, string value, bool normalized, string o)
    {
        switch (kind)
        {
            case "mask":
                RequireFile(value, o);
                return new RegionDescription.MaskFile(value);
            case "box":
            {
                var v = Numbers(value, o);
                if (v.Length != 4) throw new ArgumentException($"{o} needs 4 numbers x0,y0,x1,y1, got {v.Length} in \"{value}\"");
                return new RegionDescription.Box(v[0], v[1], v[2], v[3], normalized);
            }
            case "polygon":
                return new RegionDescription.Polygon(Pairs(Numbers(value, o), "polygon"));
            case "scribble":
            {
                int semi = value.LastIndexOf(';');
                if (semi < 0) throw new ArgumentException($"{o} needs \"x,y,x,y,…;width\", got \"{value}\" (no ';width')");
                var width = Numbers(value[(semi + 1)..], $"{o} width");
                if (width.Length != 1) throw new ArgumentException($"{o} needs one stroke width after ';', got \"{value[(semi + 1)..]}\"");
                return new RegionDescription.Scribble(Pairs(Numbers(value[..semi], o), "scribble.points"), width[0]);
            }
            case "rle":
                return ParseRleFile(value, o);
            case "region":
                if (value.StartsWith('@'))
                {
                    RequireFile(value[1..], $"{o} @FILE");
                    return RegionDescription.ParseFile(value[1..]);
                }
                return RegionDescription.Parse(value);
            case "whole":
                return RegionDescription.Whole.Instance;
            default:
                throw new ArgumentException($"unknown region kind '{kind}'");
        }
    }

    /// <summary>Pairs up x0,y0,x1,y1,… (the COCO polygon layout).</summary>
    static (double X, double Y)[] Pairs(double[] xy, string field)
    {
        if (xy.Length % 2 != 0)
            throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"needs x,y pairs but has an odd number of values ({xy.Length})");
        return Enumerable.Range(0, xy.Length / 2).Select(i => (xy[2 * i], xy[2 * i + 1])).ToArray();
    }

    /// <summary>Reads a COCO RLE from a JSON file: the RLE object itself, or an annotation holding it as "segmentation".</summary>
    static RegionDescription.Rle ParseRleFile(string path, string o)
    {
        RequireFile(path, o);
        if (new FileInfo(path).Length > 64L << 20) throw new ArgumentException($"{o} file '{path}' is larger than 64 MiB");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ArgumentException($"{o} file '{path}' is not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("segmentation", out var seg)) root = seg;
            return RegionDescription.ParseRle(root);
        }
    }

    static void RequireFile(string path, string option)
    {
        if (!File.Exists(path)) throw new ArgumentException($"{option}: file '{path}' not found");
    }

    static double[] Numbers(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new ArgumentException($"{option}: \"{parts[i]}\" is not a number (expected comma-separated numbers, got \"{text}\")");
        return values;
    }
}
