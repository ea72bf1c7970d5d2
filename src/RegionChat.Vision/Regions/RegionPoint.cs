using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>A point in image pixel coordinates (x right, y down; pixel centres at i+0.5).</summary>
public readonly record struct RegionPoint(double X, double Y)
{
    /// <summary>Pairs up a flat list x0,y0,x1,y1,… (the COCO polygon layout).</summary>
    public static RegionPoint[] FromFlat(IReadOnlyList<double> xy, string field)
    {
        if (xy.Count % 2 != 0)
            throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"needs x,y pairs but has an odd number of values ({xy.Count})");
        var points = new RegionPoint[xy.Count / 2];
        for (int i = 0; i < points.Length; i++) points[i] = new RegionPoint(xy[2 * i], xy[2 * i + 1]);
        return points;
    }
}
