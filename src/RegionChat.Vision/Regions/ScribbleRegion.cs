using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>
/// A stroke: a polyline drawn with a pen <see cref="Width"/> pixels wide. A pixel is inside when its centre lies within
/// Width/2 of any segment (round caps and joins); a single point is a disc.
/// </summary>
public sealed class ScribbleRegion : Region
{
    public ScribbleRegion(IReadOnlyList<RegionPoint> points, double width)
    {
        if (points.Count < 1)
            throw new InvalidRegionException("scribble.points", InvalidRegionReason.Malformed, "a scribble needs at least one point");
        RequireFinite("scribble.points", points.SelectMany(p => new[] { p.X, p.Y }));
        if (!double.IsFinite(width) || width <= 0)
            throw new InvalidRegionException("scribble.width", InvalidRegionReason.Malformed,
                $"the stroke width must be a positive number of pixels, got {Fmt(width)}");
        Points = points.ToArray();
        Width = width;
    }

    public IReadOnlyList<RegionPoint> Points { get; }
    public double Width { get; }

    public override string Kind => "scribble";

    protected override string EmptyDescription(int width, int height) =>
        $"the scribble covers no pixel centre of the {width}×{height} image (stroke width {Fmt(Width)} too thin?)";

    protected override RegionMask RasterizeCore(int width, int height)
    {
        double r = Width / 2;
        RequireOverlap(Points.Min(p => p.X) - r, Points.Min(p => p.Y) - r, Points.Max(p => p.X) + r, Points.Max(p => p.Y) + r, width, height);
        var mask = new RegionMask(width, height);
        if (Points.Count == 1) DrawSegment(mask, Points[0], Points[0], r);
        for (int k = 0; k + 1 < Points.Count; k++) DrawSegment(mask, Points[k], Points[k + 1], r);
        return mask;
    }

    static void DrawSegment(RegionMask mask, RegionPoint a, RegionPoint b, double r)
    {
        // Clamp in double before converting, so far-away coordinates cannot overflow int.
        int i0 = (int)Math.Clamp(Math.Floor(Math.Min(a.X, b.X) - r), 0, mask.Width);
        int i1 = (int)Math.Clamp(Math.Ceiling(Math.Max(a.X, b.X) + r), -1, mask.Width - 1);
        int j0 = (int)Math.Clamp(Math.Floor(Math.Min(a.Y, b.Y) - r), 0, mask.Height);
        int j1 = (int)Math.Clamp(Math.Ceiling(Math.Max(a.Y, b.Y) + r), -1, mask.Height - 1);
        double dx = b.X - a.X, dy = b.Y - a.Y, length2 = dx * dx + dy * dy, r2 = r * r;
        for (int j = j0; j <= j1; j++)
        for (int i = i0; i <= i1; i++)
        {
            double px = i + 0.5 - a.X, py = j + 0.5 - a.Y;
            // Closest point of the segment: projection clamped to [0,1].
            double t = length2 > 0 ? Math.Clamp((px * dx + py * dy) / length2, 0, 1) : 0;
            double ex = px - t * dx, ey = py - t * dy;
            if (ex * ex + ey * ey <= r2) mask.Set(i, j);
        }
    }
}
