using System.Globalization;

namespace RegionChat.Data.Regions;

/// <summary>
/// What one region may cost, checked before anything is drawn or any mask pixel is decoded, for every form (gRPC,
/// gRPC-Web, the JSON form of the OpenAI API, the CLI and batch files). The server reads it from
/// <c>RegionChat:Regions</c>; a refusal is an <see cref="InvalidRegionException"/> (<see cref="InvalidRegionReason.OverBudget"/>)
/// naming the field, the limit and its setting.
/// </summary>
public sealed record RegionBudget
{
    /// <summary>The configuration section the server reads it from (named in refusals).</summary>
    public const string Section = "RegionChat:Regions";

    public static RegionBudget Default { get; } = new();

    /// <summary>Most points of one polygon or scribble.</summary>
    public int MaxPoints { get; init; } = 100_000;

    /// <summary>Most stroke width (pixels) × points of one scribble: drawing costs about that many pixels per point.</summary>
    public double MaxScribbleCost { get; init; } = 1_000_000;

    /// <summary>Most regions in one union.</summary>
    public int MaxUnionParts { get; init; } = 64;

    /// <summary>Most levels of unions inside unions (1: a union of plain regions).</summary>
    public int MaxUnionDepth { get; init; } = 4;

    /// <summary>Most mask-image pixels (width × height from each mask's header) summed over the masks of one region,
    /// checked before any of them is decoded.</summary>
    public long MaxMaskPixels { get; init; } = 100_000_000;

    /// <summary>Most runs in one COCO RLE, counted before its counts are decoded: each run becomes a 64-bit count, so a
    /// compressed string of one character per run would otherwise cost 8–16 bytes of memory per byte of request.</summary>
    public long MaxRleRuns { get; init; } = 4_000_000;

    /// <summary>A meter for one region: it sums the mask pixels of its parts.</summary>
    public RegionCost Start() => new(this);

    /// <summary>The settings that are out of range, as "Section:Name must be …" lines (empty when all are fine).</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Positive(string name, double value)
        {
            if (!(value >= 1)) problems.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:{name} must be at least 1, got {value}"));
        }
        Positive(nameof(MaxPoints), MaxPoints);
        Positive(nameof(MaxScribbleCost), MaxScribbleCost);
        Positive(nameof(MaxUnionParts), MaxUnionParts);
        Positive(nameof(MaxUnionDepth), MaxUnionDepth);
        Positive(nameof(MaxMaskPixels), MaxMaskPixels);
        Positive(nameof(MaxRleRuns), MaxRleRuns);
        return problems;
    }
}

/// <summary>
/// The cost of one region so far, against a <see cref="RegionBudget"/>. Whoever builds drawable regions from a
/// description calls it before the work: each check throws an <see cref="InvalidRegionException"/> naming the field.
/// </summary>
public sealed class RegionCost(RegionBudget budget)
{
    long maskPixels, unionParts;

    public RegionBudget Budget { get; } = budget;

    /// <summary>Mask pixels counted so far.</summary>
    public long MaskPixels => maskPixels;

    /// <summary>A polygon's or scribble's point count.</summary>
    public void Points(string field, long count)
    {
        if (count > Budget.MaxPoints)
            throw Over(field, Inv($"{count:N0} points, more than the limit of {Budget.MaxPoints:N0}"), nameof(RegionBudget.MaxPoints));
    }

    /// <summary>A scribble: its points and then width × points.</summary>
    public void Scribble(string field, long points, double width)
    {
        Points(field, points);
        double cost = width * points;
        if (cost > Budget.MaxScribbleCost)
            throw Over(field, Inv($"a stroke {width:0.###} px wide through {points:N0} points costs {cost:N0} (width × points), ") +
                Inv($"more than the limit of {Budget.MaxScribbleCost:N0}"), nameof(RegionBudget.MaxScribbleCost));
    }

    /// <summary>A union of <paramref name="parts"/> regions at nesting level <paramref name="depth"/> (1 = outermost).
    /// The limit holds for the parts of all the region's unions together: each part is drawn as a whole-image mask, and
    /// unions nested 4 deep of 64 parts each would be 16 million of them.</summary>
    public void Union(string field, long parts, int depth)
    {
        if (depth > Budget.MaxUnionDepth)
            throw Over(field, Inv($"unions nest {depth} deep, more than the limit of {Budget.MaxUnionDepth}"), nameof(RegionBudget.MaxUnionDepth));
        if (parts > Budget.MaxUnionParts)
            throw Over(field, Inv($"a union of {parts:N0} regions, more than the limit of {Budget.MaxUnionParts:N0}"), nameof(RegionBudget.MaxUnionParts));
        unionParts += parts;
        if (unionParts > Budget.MaxUnionParts)
            throw Over(field, Inv($"the region's unions hold {unionParts:N0} parts in all (nested unions counted), more than the limit of ") +
                Inv($"{Budget.MaxUnionParts:N0}"), nameof(RegionBudget.MaxUnionParts));
    }

    /// <summary>A mask image of <paramref name="width"/> × <paramref name="height"/> by its header, before it is decoded.</summary>
    public void Mask(string field, int width, int height)
    {
        long pixels = (long)width * height;
        maskPixels += pixels;
        if (maskPixels > Budget.MaxMaskPixels)
            throw Over(field, maskPixels == pixels
                ? Inv($"the mask is {width}×{height} = {pixels:N0} pixels, more than the limit of {Budget.MaxMaskPixels:N0} mask pixels per region")
                : Inv($"the mask ({width}×{height}) brings the masks counted together (a union's, or a /v1 request's) to {maskPixels:N0} ") +
                  Inv($"pixels, more than the limit of {Budget.MaxMaskPixels:N0}"), nameof(RegionBudget.MaxMaskPixels));
    }

    /// <summary>A COCO RLE of <paramref name="runs"/> runs, before its counts are decoded.</summary>
    public void RleRuns(string field, long runs)
    {
        if (runs > Budget.MaxRleRuns)
            throw Over(field, Inv($"{runs:N0} runs, more than the limit of {Budget.MaxRleRuns:N0}"), nameof(RegionBudget.MaxRleRuns));
    }

    static InvalidRegionException Over(string field, string what, string setting) =>
        new(field, InvalidRegionReason.OverBudget, $"{what} ({RegionBudget.Section}:{setting})");

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
