using RegionChat.Data.Shapes;

namespace RegionChat.Data.Tests.Shapes;

/// <summary>Independent re-statements of the spec used to check the generator (floating point, written from the brief).</summary>
internal static class SceneReference
{
    public const int N = 64;

    /// <summary>Pixel-centre sampling of the brief's shape definitions in plain geometry.</summary>
    public static bool Inside(ShapeKind shape, PixelBox box, int px, int py)
    {
        double s = box.Width;
        double x = px + 0.5 - box.X0, y = py + 0.5 - box.Y0;   // local pixel centre
        if (x < 0 || y < 0 || x > s || y > s) return false;
        double dx = x - s / 2, dy = y - s / 2, h = s / 2;
        return shape switch
        {
            ShapeKind.Circle => dx * dx + dy * dy <= h * h,
            ShapeKind.Square => true,
            // apex (s/2, 0), base corners (0, s) and (s, s): half-width at depth y is y/2
            ShapeKind.Triangle => Math.Abs(dx) <= y / 2,
            ShapeKind.Diamond => Math.Abs(dx) / h + Math.Abs(dy) / h <= 1 + 1e-12,
            ShapeKind.Cross => Math.Abs(dx) <= s / 6 || Math.Abs(dy) <= s / 6,
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
    }

    public static byte[] Mask(ShapeKind shape, PixelBox box)
    {
        var m = new byte[N * N];
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                if (Inside(shape, box, x, y)) m[y * N + x] = 1;
        return m;
    }

    /// <summary>pycocotools' rleFrString + rleDecode, re-stated: runs over the column-major mask.</summary>
    public static byte[] DecodeCompressedRle(string counts, int h, int w)
    {
        var runs = new List<long>();
        int p = 0;
        while (p < counts.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            while (more)
            {
                int c = counts[p] - 48;
                x |= (long)(c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (runs.Count > 2) x += runs[^2];
            runs.Add(x);
        }
        var colMajor = new byte[h * w];
        int at = 0;
        byte v = 0;
        foreach (long run in runs)
        {
            for (long i = 0; i < run; i++) colMajor[at++] = v;
            v ^= 1;
        }
        Assert.Equal(h * w, at);
        var rowMajor = new byte[h * w];
        for (int x = 0; x < w; x++)
            for (int y = 0; y < h; y++)
                rowMajor[y * w + x] = colMajor[x * h + y];
        return rowMajor;
    }

    /// <summary>Pixel-centre point-in-polygon (even-odd) of a COCO polygon [x1, y1, x2, y2, …].</summary>
    public static byte[] RasterisePolygon(double[] poly)
    {
        var m = new byte[N * N];
        int n = poly.Length / 2;
        for (int py = 0; py < N; py++)
            for (int px = 0; px < N; px++)
            {
                double x = px + 0.5, y = py + 0.5;
                bool inside = false, onEdge = false;
                for (int i = 0, j = n - 1; i < n; j = i++)
                {
                    double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
                    // boundary points count as inside, as the shape rules use "≤"
                    double cross = (xj - xi) * (y - yi) - (yj - yi) * (x - xi);
                    if (Math.Abs(cross) < 1e-9 && x >= Math.Min(xi, xj) && x <= Math.Max(xi, xj)
                        && y >= Math.Min(yi, yj) && y <= Math.Max(yi, yj)) onEdge = true;
                    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
                }
                if (inside || onEdge) m[py * N + px] = 1;
            }
        return m;
    }

    public static int Count(byte[] mask) => mask.Sum(b => (int)b);

    public static readonly IReadOnlyDictionary<ShapeColor, (int R, int G, int B)> Colors = new Dictionary<ShapeColor, (int, int, int)>
    {
        [ShapeColor.Red] = (220, 40, 40),
        [ShapeColor.Green] = (40, 170, 60),
        [ShapeColor.Blue] = (40, 80, 220),
        [ShapeColor.Yellow] = (230, 210, 40),
        [ShapeColor.Purple] = (150, 60, 190),
        [ShapeColor.Orange] = (240, 140, 30),
    };
}
