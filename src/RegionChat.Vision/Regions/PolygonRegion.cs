using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>
/// A closed polygon in pixel coordinates. A pixel is inside when its centre (i+0.5, j+0.5) is, by <see cref="Fill"/>
/// (even-odd by default); points on a left edge count as inside, on a right edge as outside, so adjacent polygons
/// sharing an edge do not overlap.
/// </summary>
public sealed class PolygonRegion : Region
{
    /// <param name="maxDrawWork">Most edge-row crossings drawing may take (the region budget's MaxMaskPixels): a polygon
    /// of many edges each spanning a tall image would otherwise cost points × height before anything is refused.</param>
    public PolygonRegion(IReadOnlyList<RegionPoint> points, FillRule fill = FillRule.EvenOdd, long maxDrawWork = long.MaxValue)
    {
        if (points.Count < 3)
            throw new InvalidRegionException("polygon", InvalidRegionReason.Malformed, $"a polygon needs at least 3 points, got {points.Count}");
        RequireFinite("polygon", points.SelectMany(p => new[] { p.X, p.Y }));
        Points = points.ToArray();
        Fill = fill;
        MaxDrawWork = maxDrawWork;
    }

    public long MaxDrawWork { get; }

    public IReadOnlyList<RegionPoint> Points { get; }
    public FillRule Fill { get; }

    public override string Kind => "polygon";

    protected override string EmptyDescription(int width, int height) =>
        $"the polygon covers no pixel centre of the {width}×{height} image (zero area or thinner than a pixel)";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        RequireOverlap(Points.Min(p => p.X), Points.Min(p => p.Y), Points.Max(p => p.X), Points.Max(p => p.Y), width, height);
        int n = Points.Count;
        // Each edge can cross only the rows whose centre lies between its ends (a row of slack each side; the exact
        // test below decides), so a row tests the edges that reach it rather than all of them.
        var edges = new List<(int First, int End, int K)>(n);
        long work = 0;
        for (int k = 0; k < n; k++)
        {
            var a = Points[k];
            var b = Points[(k + 1) % n];
            if (a.Y == b.Y) continue;
            int first = (int)Math.Clamp(Math.Floor(Math.Min(a.Y, b.Y) - 0.5) - 1, 0, height);
            int end = (int)Math.Clamp(Math.Ceiling(Math.Max(a.Y, b.Y) - 0.5) + 1, 0, height);
            if (first >= end) continue;
            edges.Add((first, end, k));
            work += end - first;
        }
        if (work > MaxDrawWork)
            throw new InvalidRegionException("polygon", InvalidRegionReason.OverBudget,
                $"the polygon's edges cross {work:N0} rows of the {width}×{height} image, more than the limit of {MaxDrawWork:N0} " +
                $"({RegionBudget.Section}:{nameof(RegionBudget.MaxMaskPixels)})");
        edges.Sort((p, q) => p.First.CompareTo(q.First));
        var mask = new RegionMask(width, height);
        var crossings = new List<(double X, int Direction)>();
        var active = new List<(int End, int K)>();
        int next = 0;
        for (int j = 0; j < height && (next < edges.Count || active.Count > 0); j++)
        {
            if ((j & 15) == 0) ct.ThrowIfCancellationRequested();
            while (next < edges.Count && edges[next].First <= j)
            {
                active.Add((edges[next].End, edges[next].K));
                next++;
            }
            active.RemoveAll(e => e.End <= j);
            double yc = j + 0.5;
            crossings.Clear();
            foreach (var (_, k) in active)
            {
                var a = Points[k];
                var b = Points[(k + 1) % n];
                // Half-open in y so a vertex shared by two edges is counted once.
                bool up = a.Y <= yc && yc < b.Y, down = b.Y <= yc && yc < a.Y;
                if (!up && !down) continue;
                crossings.Add((CrossingX(a, b, yc), up ? 1 : -1));
            }
            if (crossings.Count == 0) continue;
            crossings.Sort((p, q) => p.X.CompareTo(q.X));
            int winding = 0;
            for (int c = 0; c < crossings.Count - 1; c++)
            {
                winding += crossings[c].Direction;
                bool inside = Fill == FillRule.EvenOdd ? (c % 2 == 0) : winding != 0;
                if (inside) FillSpan(mask, j, crossings[c].X, crossings[c + 1].X);
            }
        }
        return mask;
    }

    /// <summary>
    /// Where the edge a–b (a.Y ≠ b.Y) crosses the line y = yc, for any finite coordinates. The direct formula (exact for
    /// small integer vertices, so pixel centres on an edge fall as before) is used while its intermediates are finite;
    /// for coordinates near ±1e300, where (yc − a.Y)·(b.X − a.X) or b.Y − a.Y overflow (an image-covering polygon came
    /// out empty), the fraction along the edge is taken first, of halved differences, which cannot overflow.
    /// </summary>
    internal static double CrossingX(RegionPoint a, RegionPoint b, double yc)
    {
        double dy = b.Y - a.Y, num = (yc - a.Y) * (b.X - a.X);
        if (double.IsFinite(num) && double.IsFinite(dy)) return a.X + num / dy;
        double t = (0.5 * yc - 0.5 * a.Y) / (0.5 * b.Y - 0.5 * a.Y); // in [0, 1]
        double halfDx = 0.5 * b.X - 0.5 * a.X;
        return a.X + t * halfDx + t * halfDx;
    }

    /// <summary>Sets pixels of row j whose centres lie in [xStart, xEnd).</summary>
    static void FillSpan(RegionMask mask, int j, double xStart, double xEnd)
    {
        int i0 = (int)Math.Clamp(Math.Ceiling(xStart - 0.5), 0, mask.Width);
        int i1 = (int)Math.Clamp(Math.Ceiling(xEnd - 0.5), 0, mask.Width);
        if (i1 > i0) mask.Data.AsSpan(j * mask.Width + i0, i1 - i0).Fill(RegionMask.Inside);
    }
}
