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
    /// <paramref name="limits"/>); errors inside a union name the part ("[1].polygon").
    /// </summary>
    public static Region From(RegionDescription description, ImageLimits? limits = null) => description switch
    {
        RegionDescription.Box b => new BoxRegion(b.X0, b.Y0, b.X1, b.Y1, b.Normalized),
        RegionDescription.Polygon p => new PolygonRegion(Points(p.Points), p.NonZeroFill ? FillRule.NonZero : FillRule.EvenOdd),
        RegionDescription.Scribble s => new ScribbleRegion(Points(s.Points), s.Width),
        RegionDescription.Rle r => new RleRegion(r.ToCocoRle()),
        RegionDescription.MaskFile m => MaskRegion.Load(m.Path, limits),
        RegionDescription.MaskBytes m => MaskRegion.Decode(m.Image, limits),
        RegionDescription.Whole => WholeImageRegion.Instance,
        RegionDescription.Union u => new UnionRegion(u.Parts.Select((part, k) => FromPart(part, k, limits)).ToArray()),
        _ => throw new ArgumentException($"unknown region description {description.GetType().Name}", nameof(description)),
    };

    static Region FromPart(RegionDescription part, int index, ImageLimits? limits)
    {
        try
        {
            return From(part, limits);
        }
        catch (InvalidRegionException e)
        {
            throw e.Under($"[{index}]");
        }
    }

    static RegionPoint[] Points(IReadOnlyList<(double X, double Y)> points) => points.Select(p => new RegionPoint(p.X, p.Y)).ToArray();

    public RegionMask Rasterize(int imageWidth, int imageHeight)
    {
        if (imageWidth <= 0 || imageHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(imageWidth), $"image size {imageWidth}×{imageHeight} must be positive");
        var mask = RasterizeCore(imageWidth, imageHeight);
        if (mask.IsEmpty) throw new InvalidRegionException(Kind, InvalidRegionReason.Empty, EmptyDescription(imageWidth, imageHeight));
        return mask;
    }

    /// <summary>Draws the region; may throw for size mismatches or regions outside the image.</summary>
    protected abstract RegionMask RasterizeCore(int width, int height);

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
