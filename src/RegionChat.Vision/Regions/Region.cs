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
