using RegionChat.Data.Shapes;
using RegionChat.Data.Shapes.Internal;

namespace RegionChat.Data.Tests.Shapes;

public class ShapeRasterTests
{
    static byte[,] Local(ShapeKind shape, int s)
    {
        var m = new byte[s, s];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                m[y, x] = ShapeRaster.Contains(shape, s, x, y) ? (byte)1 : (byte)0;
        return m;
    }

    static int Area(byte[,] m) => m.Cast<byte>().Sum(b => (int)b);

    public static IEnumerable<object[]> Sides() => new[] { 10, 11, 12, 13, 14, 20, 21, 24, 27, 28 }.Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Sides))]
    public void Areas_approach_the_continuous_shapes(int s)
    {
        Assert.Equal(s * s, Area(Local(ShapeKind.Square, s)));
        Assert.InRange(Area(Local(ShapeKind.Circle, s)), Math.PI * s * s / 4 - 2 * s, Math.PI * s * s / 4 + 2 * s);
        Assert.InRange(Area(Local(ShapeKind.Diamond, s)), s * s / 2.0 - 2 * s, s * s / 2.0 + 2 * s);
        Assert.InRange(Area(Local(ShapeKind.Triangle, s)), s * s / 2.0 - 2 * s, s * s / 2.0 + 2 * s);
        // cross: two bars of width about s/3 minus their shared centre square, i.e. about 5/9 of the box
        Assert.InRange(Area(Local(ShapeKind.Cross, s)), 5.0 / 9 * s * s - 3 * s, 5.0 / 9 * s * s + 3 * s);
    }

    [Theory]
    [MemberData(nameof(Sides))]
    public void Symmetric_shapes_are_mirror_symmetric_and_the_triangle_points_up(int s)
    {
        foreach (var shape in new[] { ShapeKind.Circle, ShapeKind.Diamond, ShapeKind.Cross })
        {
            var m = Local(shape, s);
            for (int y = 0; y < s; y++)
                for (int x = 0; x < s; x++)
                {
                    Assert.Equal(m[y, x], m[y, s - 1 - x]);
                    Assert.Equal(m[y, x], m[s - 1 - y, x]);
                    Assert.Equal(m[y, x], m[x, y]);
                }
        }
        var t = Local(ShapeKind.Triangle, s);
        int previous = -1;
        for (int y = 0; y < s; y++)
        {
            int width = Enumerable.Range(0, s).Sum(x => t[y, x]);
            Assert.True(width >= previous, $"row {y} narrower than the row above");
            previous = width;
            for (int x = 0; x < s; x++) Assert.Equal(t[y, x], t[y, s - 1 - x]);
        }
        Assert.Equal(s, previous);                       // base along the bottom edge
        Assert.True(Enumerable.Range(0, s).Sum(x => t[0, x]) <= 1); // apex at the top
    }

    [Theory]
    [MemberData(nameof(Sides))]
    public void Cross_bars_are_a_third_of_the_box_wide(int s)
    {
        var m = Local(ShapeKind.Cross, s);
        int barWidth = Enumerable.Range(0, s).Sum(x => m[0, x]);   // the top row cuts only the vertical bar
        Assert.InRange(barWidth, s / 3.0 - 1, s / 3.0 + 1);
        Assert.Equal(s, Enumerable.Range(0, s).Sum(x => m[s / 2, x]));
    }

    [Fact]
    public void Rasterise_places_the_shape_at_its_box()
    {
        var box = new PixelBox(5, 7, 17, 19);
        var mask = ShapeRaster.Rasterise(ShapeKind.Square, box);
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                Assert.Equal(x >= 5 && x < 17 && y >= 7 && y < 19 ? 1 : 0, mask[y * 64 + x]);
    }
}
