using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.Vision.Tests.Regions;

public class BoxRegionTests
{
    [Fact]
    public void PixelBoxCoversColumnsX0ToX1MinusOne()
    {
        var mask = new BoxRegion(2, 1, 5, 3).Rasterize(8, 5);
        Assert.Equal(MaskText.Rows(
            "........",
            "..###...",
            "..###...",
            "........",
            "........"), MaskText.Of(mask));
        Assert.All(mask.Data, b => Assert.True(b is 0 or 255));
    }

    [Fact]
    public void NormalizedBoxScalesWithTheImage()
    {
        // 8×6: x 0.25..0.75 → 2..6, y 0.5..1 → 3..6.
        var mask = new BoxRegion(0.25, 0.5, 0.75, 1.0, normalized: true).Rasterize(8, 6);
        Assert.Equal(MaskText.Rows(
            "........",
            "........",
            "........",
            "..####..",
            "..####..",
            "..####.."), MaskText.Of(mask));
    }

    [Theory]
    [InlineData(0, 0, 8, 6, 48)]          // exactly the image
    [InlineData(-5, -5, 3, 3, 9)]        // clipped at the top-left corner
    [InlineData(6, 4, 100, 100, 4)]      // clipped at the bottom-right corner
    [InlineData(7, 5, 8, 6, 1)]          // the last pixel
    [InlineData(2.2, 1, 2.8, 2, 1)]      // thinner than a pixel: the pixel it overlaps
    [InlineData(2.5, 0, 4.5, 1, 3)]      // fractional: pixels 2, 3, 4 overlap
    [InlineData(2, 0, 4.0000000001, 1, 2)] // rounding noise past a pixel edge does not take in the next pixel
    public void BoxesAtAndBeyondTheEdgesAreClipped(double x0, double y0, double x1, double y1, long area)
    {
        Assert.Equal(area, new BoxRegion(x0, y0, x1, y1).Rasterize(8, 6).Area());
    }

    [Theory]
    [InlineData(8, 0, 10, 3)]     // right of the image, touching its edge
    [InlineData(-3, -3, 0, 0)]    // above-left, touching the corner
    [InlineData(0, 6, 8, 9)]      // below
    [InlineData(-100, 2, -50, 3)]
    public void BoxesWhollyOutsideAreErrors(double x0, double y0, double x1, double y1)
    {
        var e = Assert.Throws<InvalidRegionException>(() => new BoxRegion(x0, y0, x1, y1).Rasterize(8, 6));
        Assert.Equal(InvalidRegionReason.OutsideImage, e.Reason);
        Assert.Equal("box", e.Field);
        Assert.Contains("8×6", e.Message);
    }

    [Fact]
    public void NormalizedBoxOutsideIsAnError()
    {
        var e = Assert.Throws<InvalidRegionException>(() => new BoxRegion(1.0, 0, 1.5, 1, normalized: true).Rasterize(8, 6));
        Assert.Equal(InvalidRegionReason.OutsideImage, e.Reason);
    }

    [Theory]
    [InlineData(3, 1, 3, 4)]   // zero width
    [InlineData(5, 1, 2, 4)]   // reversed
    [InlineData(double.NaN, 0, 1, 1)]
    [InlineData(0, 0, double.PositiveInfinity, 1)]
    public void MalformedBoxesAreRejectedWhenBuilt(double x0, double y0, double x1, double y1)
    {
        var e = Assert.Throws<InvalidRegionException>(() => new BoxRegion(x0, y0, x1, y1));
        Assert.Equal(InvalidRegionReason.Malformed, e.Reason);
    }
}
