namespace RegionChat.Data.Shapes.Internal;

/// <summary>
/// Exact outlines of the straight-edged shapes as COCO polygons [x1, y1, x2, y2, …] in pixel-edge coordinates
/// (pixel (i, j) spans [i, i+1]×[j, j+1]), so pixel-centre sampling of the polygon gives back the rasterised shape.
/// </summary>
internal static class ShapeOutline
{
    public static bool HasPolygon(ShapeKind shape) => shape is ShapeKind.Square or ShapeKind.Triangle or ShapeKind.Diamond;

    public static double[] Polygon(ShapeKind shape, PixelBox box)
    {
        double x0 = box.X0, y0 = box.Y0, x1 = box.X1, y1 = box.Y1;
        double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
        return shape switch
        {
            ShapeKind.Square => [x0, y0, x1, y0, x1, y1, x0, y1],
            ShapeKind.Triangle => [cx, y0, x1, y1, x0, y1],
            ShapeKind.Diamond => [cx, y0, x1, cy, cx, y1, x0, cy],
            _ => throw new ArgumentException($"a {shape.Word()} has no polygon outline", nameof(shape)),
        };
    }
}
