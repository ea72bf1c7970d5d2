using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>
/// An axis-aligned box (x0,y0)–(x1,y1), in pixels or, when <see cref="Normalized"/>, as fractions 0–1 of the image size.
/// A pixel is inside when its square overlaps the box (by more than 1e-6 px, to absorb rounding of normalised values),
/// so integer boxes take pixels x0..x1−1 and a fractional box never vanishes between pixel centres. The box is clipped to the image; one wholly outside is an
/// error.
/// </summary>
public sealed class BoxRegion : Region
{
    public BoxRegion(double x0, double y0, double x1, double y1, bool normalized = false)
    {
        RequireFinite("box", [x0, y0, x1, y1]);
        if (!(x1 > x0 && y1 > y0))
            throw new InvalidRegionException("box", InvalidRegionReason.Malformed,
                $"a box needs x0 < x1 and y0 < y1, got ({Fmt(x0)}, {Fmt(y0)}, {Fmt(x1)}, {Fmt(y1)})");
        (X0, Y0, X1, Y1, Normalized) = (x0, y0, x1, y1, normalized);
    }

    public double X0 { get; }
    public double Y0 { get; }
    public double X1 { get; }
    public double Y1 { get; }
    public bool Normalized { get; }

    public override string Kind => "box";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        double sx = Normalized ? width : 1, sy = Normalized ? height : 1;
        double x0 = X0 * sx, y0 = Y0 * sy, x1 = X1 * sx, y1 = Y1 * sy;
        RequireOverlap(x0, y0, x1, y1, width, height);
        // Pixels i with [i, i+1) overlapping [x0, x1): floor(x0) .. ceil(x1)-1, clipped. Overlaps under a millionth of a
        // pixel do not count, so a normalised 20/120 that comes back as 19.999999999999996 does not take in row 19.
        const double slack = 1e-6;
        int i0 = (int)Math.Clamp(Math.Floor(x0 + slack), 0, width), i1 = (int)Math.Clamp(Math.Ceiling(x1 - slack), 0, width);
        int j0 = (int)Math.Clamp(Math.Floor(y0 + slack), 0, height), j1 = (int)Math.Clamp(Math.Ceiling(y1 - slack), 0, height);
        var mask = new RegionMask(width, height);
        for (int j = j0; j < j1; j++) mask.Data.AsSpan(j * width + i0, i1 - i0).Fill(RegionMask.Inside);
        return mask;
    }
}
