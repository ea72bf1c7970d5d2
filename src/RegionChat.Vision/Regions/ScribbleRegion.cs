using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>
/// A stroke: a polyline drawn with a pen <see cref="Width"/> pixels wide. A pixel is inside when its centre lies within
/// Width/2 of any segment (round caps and joins); a single point is a disc.
/// </summary>
public sealed class ScribbleRegion : Region
{
    /// <param name="maxDrawWork">Most pixels and rows drawing may touch (the region budget's MaxMaskPixels): long
    /// segments back and forth across an image would otherwise cost their length × width, which the point budget does
    /// not see.</param>
    public ScribbleRegion(IReadOnlyList<RegionPoint> points, double width, long maxDrawWork = long.MaxValue)
    {
        if (points.Count < 1)
            throw new InvalidRegionException("scribble.points", InvalidRegionReason.Malformed, "a scribble needs at least one point");
        RequireFinite("scribble.points", points.SelectMany(p => new[] { p.X, p.Y }));
        if (!double.IsFinite(width) || width <= 0)
            throw new InvalidRegionException("scribble.width", InvalidRegionReason.Malformed,
                $"the stroke width must be a positive number of pixels, got {Fmt(width)}");
        Points = points.ToArray();
        Width = width;
        MaxDrawWork = maxDrawWork;
    }

    public long MaxDrawWork { get; }

    public IReadOnlyList<RegionPoint> Points { get; }
    public double Width { get; }

    public override string Kind => "scribble";

    protected override string EmptyDescription(int width, int height) =>
        $"the scribble covers no pixel centre of the {width}×{height} image (stroke width {Fmt(Width)} too thin?)";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        double r = Width / 2;
        RequireOverlap(Points.Min(p => p.X) - r, Points.Min(p => p.Y) - r, Points.Max(p => p.X) + r, Points.Max(p => p.Y) + r, width, height);
        // A segment's rows plus its stroke's area: what drawing it touches, counted before anything is drawn.
        double work = 0;
        for (int k = 0; k + 1 < Points.Count || k == 0; k++)
        {
            var (a, b) = (Points[k], Points[Math.Min(k + 1, Points.Count - 1)]);
            double rows = Math.Clamp(Math.Abs(b.Y - a.Y) + 2 * r + 2, 0, height);
            double length = Math.Sqrt((b.X - a.X) * (b.X - a.X) + (b.Y - a.Y) * (b.Y - a.Y));
            work += rows + Math.Min(2 * r * length + Math.PI * r * r, (double)width * height);
        }
        if (work > MaxDrawWork)
            throw new InvalidRegionException("scribble", InvalidRegionReason.OverBudget,
                $"drawing the scribble on the {width}×{height} image would touch about {work:N0} pixels, more than the limit of " +
                $"{MaxDrawWork:N0} ({RegionBudget.Section}:{nameof(RegionBudget.MaxMaskPixels)})");
        var mask = new RegionMask(width, height);
        if (Points.Count == 1) DrawSegment(mask, Points[0], Points[0], r, ct);
        for (int k = 0; k + 1 < Points.Count; k++)
        {
            // A cancelled request stops between segments (and between rows of a long one).
            ct.ThrowIfCancellationRequested();
            DrawSegment(mask, Points[k], Points[k + 1], r, ct);
        }
        return mask;
    }

    /// <summary>
    /// Sets the pixels whose centres lie within r of the segment a–b. The stroke is convex, so each row holds one run of
    /// such pixels: its ends are found from the row's crossing of the stroke (two discs and a band, worked out on the
    /// row) and confirmed pixel by pixel with the distance test, and the run between them is filled at once. A row costs
    /// a few tests instead of one per pixel of the segment's box.
    /// </summary>
    static void DrawSegment(RegionMask mask, RegionPoint a, RegionPoint b, double r, CancellationToken ct)
    {
        // Clamp in double before converting, so far-away coordinates cannot overflow int.
        int i0 = (int)Math.Clamp(Math.Floor(Math.Min(a.X, b.X) - r), 0, mask.Width);
        int i1 = (int)Math.Clamp(Math.Ceiling(Math.Max(a.X, b.X) + r), -1, mask.Width - 1);
        int j0 = (int)Math.Clamp(Math.Floor(Math.Min(a.Y, b.Y) - r), 0, mask.Height);
        int j1 = (int)Math.Clamp(Math.Ceiling(Math.Max(a.Y, b.Y) + r), -1, mask.Height - 1);
        if (i0 > i1) return;
        double dx = b.X - a.X, dy = b.Y - a.Y, length2 = dx * dx + dy * dy, r2 = r * r;
        bool Inside(int i, double py)
        {
            double px = i + 0.5 - a.X;
            // Closest point of the segment: projection clamped to [0,1].
            double t = length2 > 0 ? Math.Clamp((px * dx + py * dy) / length2, 0, 1) : 0;
            double ex = px - t * dx, ey = py - t * dy;
            return ex * ex + ey * ey <= r2;
        }
        for (int j = j0; j <= j1; j++)
        {
            if (((j - j0) & 255) == 255) ct.ThrowIfCancellationRequested();
            double py = j + 0.5 - a.Y;
            int left = i0, right = i1;
            if (RowSpan(py, dx, dy, length2, r) is not { } span) continue;
            if (double.IsFinite(span.Lo) && double.IsFinite(span.Hi))
            {
                // One pixel of slack each side for rounding; the distance test below has the last word.
                left = (int)Math.Clamp(Math.Floor(a.X + span.Lo - 0.5) - 1, i0, i1 + 1.0);
                right = (int)Math.Clamp(Math.Ceiling(a.X + span.Hi - 0.5) + 1, i0 - 1.0, i1);
            }
            while (left <= right && !Inside(left, py)) left++;
            while (right >= left && !Inside(right, py)) right--;
            if (left <= right) mask.Data.AsSpan(j * mask.Width + left, right - left + 1).Fill(RegionMask.Inside);
        }
    }

    /// <summary>
    /// The x range (relative to a.X) where the row py (relative to a.Y) meets the stroke of radius r around the segment
    /// from a to a + (dx, dy), slightly widened so rounding cannot lose a pixel that touches it; null when it misses.
    /// Not finite for coordinates so large that the arithmetic overflows (the caller then tests the whole row).
    /// </summary>
    static (double Lo, double Hi)? RowSpan(double py, double dx, double dy, double length2, double r)
    {
        double rr = r * (1 + 1e-9) + 1e-9, rr2 = rr * rr;
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        bool overflow = false;
        void Add(double l, double h)
        {
            if (!double.IsFinite(l) || !double.IsFinite(h)) overflow = true;
            else if (l <= h) (lo, hi) = (Math.Min(lo, l), Math.Max(hi, h));
        }
        // The discs at both ends.
        if (py * py <= rr2) { double h = Math.Sqrt(rr2 - py * py); Add(-h, h); }
        double qy = py - dy;
        if (qy * qy <= rr2) { double h = Math.Sqrt(rr2 - qy * qy); Add(dx - h, dx + h); }
        if (length2 > 0)
        {
            // The band: projection onto the segment within [0, length²], distance from its line at most rr. One of dx, dy
            // is nonzero, so one of the two conditions bounds the range.
            double bl = double.NegativeInfinity, bh = double.PositiveInfinity, reach = rr * Math.Sqrt(length2);
            bool meets = true;
            if (dx != 0)
            {
                double e1 = -py * dy / dx, e2 = (length2 - py * dy) / dx;
                (bl, bh) = (Math.Max(bl, Math.Min(e1, e2)), Math.Min(bh, Math.Max(e1, e2)));
            }
            else meets &= py * dy >= 0 && py * dy <= length2;
            if (dy != 0)
            {
                double f1 = (py * dx - reach) / dy, f2 = (py * dx + reach) / dy;
                (bl, bh) = (Math.Max(bl, Math.Min(f1, f2)), Math.Min(bh, Math.Max(f1, f2)));
            }
            else meets &= Math.Abs(py * dx) <= reach;
            if (meets) Add(bl, bh);
        }
        if (overflow) return (double.NaN, double.NaN);
        return lo <= hi ? (lo, hi) : null;
    }
}
