namespace RegionChat.Vision.Regions;

/// <summary>Which points a self-intersecting polygon covers (the same for simple polygons).</summary>
public enum FillRule
{
    /// <summary>Inside when a ray from the point crosses the outline an odd number of times (a pentagram's centre is a hole).</summary>
    EvenOdd,
    /// <summary>Inside when the outline winds around the point at all (a pentagram is filled solid).</summary>
    NonZero,
}
