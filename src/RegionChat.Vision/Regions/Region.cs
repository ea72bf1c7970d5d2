using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;

namespace RegionChat.Vision.Regions;

/// <summary>
/// A part of an image that Alpha-CLIP should attend to: a mask, box, polygon, COCO RLE, scribble, the whole image, or a
/// union of these. <see cref="Rasterize"/> turns it into a per-pixel <see cref="RegionMask"/> for a given image size, and
/// rejects regions that cover nothing or lie outside the image with an <see cref="InvalidRegionException"/>.
/// Coordinates are pixels with (0,0) the top-left corner of the top-left pixel; pixel (i,j) spans [i,i+1)×[j,j+1).
/// </summary>
public abstract class Region
{
    /// <summary>Name of this kind of region in errors and JSON ("box", "polygon", …).</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// The drawable region a description stands for. Mask files and inline mask images are decoded here (within
    /// <paramref name="limits"/>); errors inside a union name the part ("[1].polygon"). The region's cost is checked
    /// against <paramref name="budget"/> (default <see cref="RegionBudget.Default"/>) before anything is decoded or drawn.
    /// </summary>
    public static Region From(RegionDescription description, ImageLimits? limits = null, RegionBudget? budget = null) =>
        From(description, limits, (budget ?? RegionBudget.Default).Start(), 1);

    /// <summary>As <see cref="From(RegionDescription, ImageLimits?, RegionBudget?)"/>, adding to a cost already started
    /// (the parts of a union built one by one); <paramref name="depth"/> is the nesting level a union here would have.</summary>
    public static Region From(RegionDescription description, ImageLimits? limits, RegionCost cost, int depth = 1)
    {
        switch (description)
        {
            case RegionDescription.Box b:
                return new BoxRegion(b.X0, b.Y0, b.X1, b.Y1, b.Normalized);
            case RegionDescription.Polygon p:
                cost.Points("polygon", p.Points.Count);
                return new PolygonRegion(Points(p.Points), p.NonZeroFill ? FillRule.NonZero : FillRule.EvenOdd, cost.Budget.MaxMaskPixels);
            case RegionDescription.Scribble s:
                cost.Points("scribble.points", s.Points.Count);
                cost.Scribble("scribble", s.Points.Count, s.Width);
                return new ScribbleRegion(Points(s.Points), s.Width, cost.Budget.MaxMaskPixels);
            case RegionDescription.Rle r:
                cost.RleRuns("rle.counts", r.Runs);
                return new RleRegion(r.ToCocoRle());
            case RegionDescription.MaskFile m:
                return MaskRegion.Load(m.Path, limits, cost);
            case RegionDescription.MaskBytes m:
                return MaskRegion.Decode(m.Image, limits, cost);
            case RegionDescription.Whole:
                return WholeImageRegion.Instance;
            case RegionDescription.Union u:
                cost.Union("region", u.Parts.Count, depth);
                return new UnionRegion(u.Parts.Select((part, k) => FromPart(part, k, limits, cost, depth + 1)).ToArray());
            default:
                throw new ArgumentException($"unknown region description {description.GetType().Name}", nameof(description));
        }
    }

    static Region FromPart(RegionDescription part, int index, ImageLimits? limits, RegionCost cost, int depth)
    {
        try
        {
            return From(part, limits, cost, depth);
        }
        catch (InvalidRegionException e)
        {
            throw e.Under($"[{index}]");
        }
    }

    static RegionPoint[] Points(IReadOnlyList<(double X, double Y)> points) => points.Select(p => new RegionPoint(p.X, p.Y)).ToArray();

    /// <summary>Draws the region for an image of the given size. Long drawings check <paramref name="ct"/> between chunks
    /// of rows or segments, so a cancelled request stops drawing (<see cref="OperationCanceledException"/>).</summary>
    public RegionMask Rasterize(int imageWidth, int imageHeight, CancellationToken ct = default)
    {
        if (imageWidth <= 0 || imageHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(imageWidth), $"image size {imageWidth}×{imageHeight} must be positive");
        ct.ThrowIfCancellationRequested();
        var mask = RasterizeCore(imageWidth, imageHeight, ct);
        if (mask.IsEmpty) throw new InvalidRegionException(Kind, InvalidRegionReason.Empty, EmptyDescription(imageWidth, imageHeight));
        return mask;
    }

    /// <summary>Draws the region; may throw for size mismatches or regions outside the image. Long drawings call
    /// <c>ct.ThrowIfCancellationRequested()</c> between chunks of work.</summary>
    protected abstract RegionMask RasterizeCore(int width, int height, CancellationToken ct);

    protected virtual string EmptyDescription(int width, int height) => $"the {Kind} covers no pixel of the {width}×{height} image";

    protected InvalidRegionException Error(InvalidRegionReason reason, string description) => new(Kind, reason, description);

    /// <summary>Throws when the region's bounding box [minX,maxX)×[minY,maxY) misses the image entirely.</summary>
    protected void RequireOverlap(double minX, double minY, double maxX, double maxY, int width, int height)
    {
        if (maxX <= 0 || maxY <= 0 || minX >= width || minY >= height)
            throw Error(InvalidRegionReason.OutsideImage,
                $"the {Kind} (bounds x {Fmt(minX)}..{Fmt(maxX)}, y {Fmt(minY)}..{Fmt(maxY)}) lies outside the {width}×{height} image");
    }

    internal static string Fmt(double v) => v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    internal static void RequireFinite(string field, IEnumerable<double> values)
    {
        foreach (double v in values)
            if (!double.IsFinite(v)) throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"coordinate {v} is not a finite number");
    }
}
