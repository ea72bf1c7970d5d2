namespace RegionChat.Data.Shapes.Internal;

/// <summary>
/// Pixel-centre sampling of a shape in a square box of side s. Coordinates are doubled so every test is exact integer
/// arithmetic: a pixel at local column lx has doubled centre 2·lx+1, the box centre is s, the half side is s.
/// </summary>
internal static class ShapeRaster
{
    /// <summary>Whether the pixel at local (lx, ly) of a side-s box belongs to the shape.</summary>
    public static bool Contains(ShapeKind shape, int side, int lx, int ly)
    {
        int du = 2 * lx + 1 - side;   // doubled offset from the box centre
        int dv = 2 * ly + 1 - side;
        int adu = Math.Abs(du), adv = Math.Abs(dv);
        return shape switch
        {
            // inscribed disc: radius s/2
            ShapeKind.Circle => du * du + dv * dv <= side * side,
            ShapeKind.Square => true,
            // apex at top-centre, base along the bottom edge: half-width grows from 0 at the top to s/2 at the bottom
            ShapeKind.Triangle => 2 * adu <= dv + side,
            // |dx|/hw + |dy|/hh <= 1 with hw = hh = s/2
            ShapeKind.Diamond => adu + adv <= side,
            // horizontal and vertical bars, each s/3 wide, centred
            ShapeKind.Cross => 3 * adu <= side || 3 * adv <= side,
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "not a shape of the shapes world"),
        };
    }

    /// <summary>The shape as a canvas mask (1 inside, 0 outside).</summary>
    public static byte[] Rasterise(ShapeKind shape, PixelBox box)
    {
        var mask = new byte[ShapesSpec.PixelCount];
        for (int y = box.Y0; y < box.Y1; y++)
            for (int x = box.X0; x < box.X1; x++)
                if (Contains(shape, box.Width, x - box.X0, y - box.Y0)) mask[y * ShapesSpec.CanvasSize + x] = 1;
        return mask;
    }
}
