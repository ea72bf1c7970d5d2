using System.Text.Json;
using RegionChat.Data.Regions.Internal;

namespace RegionChat.Data.Regions;

/// <summary>
/// A region as written down, before any image: the one JSON region form that the CLI, batch files, the client library
/// and the server's OpenAI extension share. One region is an object with one kind key; an array of them is their union:
/// <code>
/// {"mask": "path.png"}                                   mask image: a path (relative to the base directory) or a
///                                                        "data:image/png;base64,…" URL
/// {"box": [x0,y0,x1,y1]}  + optional "normalized": true  pixels, or fractions 0–1 of the image size
/// {"polygon": [x,y,x,y,…]} + optional "fill": "evenodd"|"nonzero"   (also [[x,y],…])
/// {"rle": {"size": [h,w], "counts": "…" | [n,…]}}        COCO RLE, compressed string or plain counts
/// {"scribble": {"points": [x,y,…], "width": w}}          stroke of width w pixels
/// {"whole": true}
/// </code>
/// Unknown keys are errors (a typo should not silently mean "whole image"). Parsing checks the form only and fails with
/// an <see cref="InvalidRegionException"/> naming the field ("box", "rle.counts", "[1].polygon" inside a union); what
/// needs the image or the drawing rules (a box with x1 &lt; x0, a polygon of two points, a mask that is not an image)
/// is checked by whoever turns the description into a mask or a request.
/// </summary>
public abstract record RegionDescription
{
    private protected RegionDescription() { }

    /// <summary>Parses a region; relative mask paths resolve against <paramref name="baseDirectory"/> (default: current).</summary>
    public static RegionDescription Parse(string json, string? baseDirectory = null) => RegionJsonParser.Parse(json, baseDirectory);

    /// <summary>Parses a region from a JSON element; relative mask paths resolve against <paramref name="baseDirectory"/>.
    /// With a <paramref name="budget"/>, point and run lists over it are refused by their length before they are read.</summary>
    public static RegionDescription Parse(JsonElement element, string? baseDirectory = null, RegionBudget? budget = null) =>
        RegionJsonParser.Parse(element, baseDirectory, budget);

    /// <summary>Parses a region from a JSON file; relative mask paths resolve against the file's folder.</summary>
    public static RegionDescription ParseFile(string path) => RegionJsonParser.ParseFile(path);

    /// <summary>Parses a bare COCO RLE object {"size": [h,w], "counts": …}; errors name <paramref name="field"/>.</summary>
    public static Rle ParseRle(JsonElement element, string field = "rle") => RegionJsonParser.ParseRle(element, field);

    /// <summary>The JSON form <see cref="Parse(string, string?)"/> reads back (a mask file as its path, mask bytes as a data URL).</summary>
    public string ToJson() => RegionJsonWriter.Write(this);

    /// <summary>The box (x0,y0)–(x1,y1), in pixels or, when <see cref="Normalized"/>, in fractions 0–1 of the image size.</summary>
    public sealed record Box(double X0, double Y0, double X1, double Y1, bool Normalized = false) : RegionDescription;

    /// <summary>A filled polygon in pixels; self-intersections are filled even-odd unless <see cref="NonZeroFill"/>.</summary>
    public sealed record Polygon(IReadOnlyList<(double X, double Y)> Points, bool NonZeroFill = false) : RegionDescription;

    /// <summary>A brush stroke: every pixel within <see cref="Width"/>/2 of the polyline through <see cref="Points"/>.</summary>
    public sealed record Scribble(IReadOnlyList<(double X, double Y)> Points, double Width) : RegionDescription;

    /// <summary>A COCO RLE of an image <see cref="Height"/> × <see cref="Width"/>: the compressed string or the plain counts
    /// (exactly one is set).</summary>
    public sealed record Rle(int Height, int Width, string? Compressed, IReadOnlyList<long>? Counts) : RegionDescription
    {
        /// <summary>How many runs the counts hold, without decoding them: in the compressed string every number ends with
        /// a character whose continuation bit (0x20 of character − 48) is clear.</summary>
        public long Runs => Counts?.Count ?? Compressed!.Count(c => ((c - 48) & 0x20) == 0);

        /// <summary>Decodes the counts (a compressed string is expanded); errors name <paramref name="field"/>.counts.</summary>
        public CocoRle ToCocoRle(string field = "rle") =>
            Compressed != null ? CocoRle.FromString(Height, Width, Compressed, field) : new CocoRle(Height, Width, Counts!, field);
    }

    /// <summary>A mask image in a file (the path as resolved against the base directory); pixels ≥ 128 are inside (in a
    /// 0/1 mask, whose largest value is 1, the 1s).</summary>
    public sealed record MaskFile(string Path) : RegionDescription;

    /// <summary>A mask image given inline (decoded from a data URL); pixels ≥ 128 are inside (in a 0/1 mask, the 1s).</summary>
    public sealed record MaskBytes(byte[] Image) : RegionDescription;

    /// <summary>The whole image.</summary>
    public sealed record Whole : RegionDescription
    {
        public static Whole Instance { get; } = new();
    }

    /// <summary>The union of several regions (none of them a union).</summary>
    public sealed record Union(IReadOnlyList<RegionDescription> Parts) : RegionDescription;
}
