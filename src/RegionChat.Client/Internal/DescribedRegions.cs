using RegionChat.Data.Regions;

namespace RegionChat.Client.Internal;

/// <summary>A <see cref="RegionDescription"/> (the one region grammar) as the region a request sends. Checks what the
/// client's region types check; a mask file is read here, and the server decodes its bytes as they are.</summary>
internal static class DescribedRegions
{
    public static ImageRegion ToImageRegion(RegionDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (description is not RegionDescription.Union union) return FromPart(description);
        var parts = new List<ImageRegion>();
        foreach (var part in union.Parts)
        {
            try { parts.Add(FromPart(part)); }
            catch (ArgumentException e) { throw new ArgumentException($"region[{parts.Count}]: {e.Message}", e); }
        }
        return ImageRegion.Union(parts);
    }

    static ImageRegion FromPart(RegionDescription description) => description switch
    {
        RegionDescription.Box b => new RegionBox((float)b.X0, (float)b.Y0, (float)b.X1, (float)b.Y1, b.Normalized),
        RegionDescription.Polygon p => new RegionPolygon(Points(p.Points), p.NonZeroFill),
        RegionDescription.Scribble s => new RegionScribble(Points(s.Points), (float)s.Width),
        RegionDescription.Rle { Compressed: { } compressed } r => new RegionRle(r.Height, r.Width, compressed, null),
        RegionDescription.Rle r => new RegionRle(r.Height, r.Width, null, r.Counts!.Select(c => c <= uint.MaxValue ? (uint)c
            : throw new ArgumentException($"rle.counts: must be non-negative integers below 2^32, got {c}")).ToArray()),
        RegionDescription.MaskFile m => new RegionMask(ReadMask(m.Path)),
        RegionDescription.MaskBytes m => new RegionMask(m.Image),
        RegionDescription.Whole => ImageRegion.Whole,
        _ => throw new ArgumentException($"region: {description.GetType().Name} cannot be sent"),
    };

    static List<(float X, float Y)> Points(IReadOnlyList<(double X, double Y)> points) => points.Select(p => ((float)p.X, (float)p.Y)).ToList();

    static byte[] ReadMask(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new ArgumentException($"mask: cannot read '{path}': {e.Message}", e);
        }
    }
}
