using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.Vision.Tests.Regions;

public class PolygonAndScribbleTests
{
    [Fact]
    public void TriangleIsFilledByPixelCentres()
    {
        // (0,0),(4,0),(0,4): a centre (i+.5, j+.5) is inside when i+j+1 < 4; (0.5,3.5) lies on the hypotenuse and, being on
        // the right-hand end of its span, is outside.
        var mask = new PolygonRegion([new(0, 0), new(4, 0), new(0, 4)]).Rasterize(5, 5);
        Assert.Equal(MaskText.Rows(
            "###..",
            "##...",
            "#....",
            ".....",
            "....."), MaskText.Of(mask));
    }

    [Fact]
    public void RectanglePolygonEqualsTheBox()
    {
        var polygon = new PolygonRegion([new(2, 1), new(5, 1), new(5, 3), new(2, 3)]).Rasterize(8, 5);
        Assert.Equal(MaskText.Of(new BoxRegion(2, 1, 5, 3).Rasterize(8, 5)), MaskText.Of(polygon));
    }

    static RegionPoint[] Pentagram()
    {
        // Vertices of a regular pentagon visited every second one: the outline crosses itself and winds twice around the centre.
        return Enumerable.Range(0, 5).Select(k =>
        {
            double a = (-90 + 144 * k) * Math.PI / 180;
            return new RegionPoint(50 + 40 * Math.Cos(a), 50 + 40 * Math.Sin(a));
        }).ToArray();
    }

    [Fact]
    public void PentagramCentreIsAHoleForEvenOddButFilledForNonZero()
    {
        var evenOdd = new PolygonRegion(Pentagram(), FillRule.EvenOdd).Rasterize(100, 100);
        var nonZero = new PolygonRegion(Pentagram(), FillRule.NonZero).Rasterize(100, 100);
        Assert.False(evenOdd[49, 49]);
        Assert.True(nonZero[49, 49]);
        Assert.True(evenOdd[49, 15] && nonZero[49, 15]); // inside the top point in both
        Assert.False(evenOdd[5, 5] || nonZero[5, 5]);
        // Non-zero adds exactly the inner pentagon: everything even-odd fills is filled by non-zero too.
        for (int i = 0; i < evenOdd.Data.Length; i++) Assert.True(evenOdd.Data[i] == 0 || nonZero.Data[i] != 0);
        Assert.True(nonZero.Area() > evenOdd.Area() + 300, $"{nonZero.Area()} vs {evenOdd.Area()}");
    }

    [Fact]
    public void PolygonErrors()
    {
        Assert.Equal(InvalidRegionReason.Malformed,
            Assert.Throws<InvalidRegionException>(() => new PolygonRegion([new(0, 0), new(3, 3)])).Reason);
        Assert.Equal(InvalidRegionReason.OutsideImage,
            Assert.Throws<InvalidRegionException>(() => new PolygonRegion([new(20, 20), new(30, 20), new(25, 30)]).Rasterize(10, 10)).Reason);
        var degenerate = Assert.Throws<InvalidRegionException>(() => new PolygonRegion([new(1, 1), new(5, 5), new(9, 9)]).Rasterize(10, 10));
        Assert.Equal(InvalidRegionReason.Empty, degenerate.Reason);
        Assert.Equal("polygon", degenerate.Field);
    }

    [Fact]
    public void ScribbleCoversCentresWithinHalfTheWidth()
    {
        // Segment (2,5)–(12,5), width 2: centres at y 4.5 and 5.5 are 0.5 away (in), 3.5 and 6.5 are 1.5 away (out);
        // at the ends (1.5,4.5) and (12.5,4.5) are √0.5 from the endpoints (in), (0.5,4.5) and (13.5,4.5) √2.5 (out).
        var mask = new ScribbleRegion([new(2, 5), new(12, 5)], width: 2).Rasterize(16, 8);
        Assert.Equal(MaskText.Rows(
            "................",
            "................",
            "................",
            "................",
            ".############...",
            ".############...",
            "................",
            "................"), MaskText.Of(mask));
    }

    [Fact]
    public void SinglePointScribbleIsADisc()
    {
        // Radius 2 around (5,5): centre offsets (±0.5,±0.5) and (±1.5,±0.5)/(±0.5,±1.5) are within 2; (±1.5,±1.5) is not.
        var mask = new ScribbleRegion([new(5, 5)], width: 4).Rasterize(10, 10);
        Assert.Equal(12, mask.Area());
        Assert.True(mask[4, 4] && mask[3, 5] && mask[5, 6]);
        Assert.False(mask[3, 3]);
    }

    [Fact]
    public void PolylineScribbleJoinsSegments()
    {
        var mask = new ScribbleRegion([new(1, 1), new(8, 1), new(8, 8)], width: 1).Rasterize(10, 10);
        Assert.True(mask[4, 0] || mask[4, 1]);
        Assert.True(mask[7, 5] || mask[8, 5]);
        Assert.False(mask[2, 6]);
    }

    [Fact]
    public void ScribbleErrors()
    {
        Assert.Equal("scribble.width", Assert.Throws<InvalidRegionException>(() => new ScribbleRegion([new(1, 1)], 0)).Field);
        Assert.Equal("scribble.points", Assert.Throws<InvalidRegionException>(() => new ScribbleRegion([], 3)).Field);
        Assert.Equal(InvalidRegionReason.OutsideImage,
            Assert.Throws<InvalidRegionException>(() => new ScribbleRegion([new(-10, -10), new(-5, -20)], 3).Rasterize(10, 10)).Reason);
        // A stroke thinner than the gap between pixel centres, running between them, covers nothing.
        Assert.Equal(InvalidRegionReason.Empty,
            Assert.Throws<InvalidRegionException>(() => new ScribbleRegion([new(0, 3), new(9, 3)], 0.5).Rasterize(10, 10)).Reason);
    }
}
