using RegionChat.Data.Regions;
using RegionChat.TestSupport;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Regions;

public class MaskUnionWholeTests
{
    [Fact]
    public void MaskThresholdIs128()
    {
        var region = new MaskRegion(4, 1, [0, 127, 128, 255]);
        Assert.Equal("..##", MaskText.Of(region.Rasterize(4, 1)));
    }

    [Fact]
    public void MaskOfTheWrongSizeNamesBothSizes()
    {
        var e = Assert.Throws<InvalidRegionException>(() => new MaskRegion(4, 2, new byte[8]).Rasterize(200, 120));
        Assert.Equal(InvalidRegionReason.SizeMismatch, e.Reason);
        Assert.Equal("mask", e.Field);
        Assert.Contains("4×2", e.Message);
        Assert.Contains("200×120", e.Message);
    }

    [Fact]
    public void ZeroOneMaskHasItsOnesInsideAndOtherFaintMasksAreEmptyWithAHint()
    {
        // A binary 0/1 mask (as datasets store them): largest value 1, so every 1 is inside.
        Assert.Equal(".##.", MaskText.Of(new MaskRegion(4, 1, [0, 1, 1, 0]).Rasterize(4, 1)));
        using var dir = new TempDir();
        using (var image = new Image<L8>(3, 2))
        {
            image[2, 0] = new L8(1);
            image[0, 1] = new L8(1);
            image.SaveAsPng(dir.File("binary.png"));
        }
        Assert.Equal("..#\n#..", MaskText.Of(MaskRegion.Load(dir.File("binary.png")).Rasterize(3, 2)));

        // Anything else below 128 stays outside: a mask whose largest value is 2 is empty, and the error says what to use.
        var e = Assert.Throws<InvalidRegionException>(() => new MaskRegion(2, 2, [0, 2, 1, 0]).Rasterize(2, 2));
        Assert.Equal(InvalidRegionReason.Empty, e.Reason);
        Assert.Contains("largest value is 2", e.Message);
        Assert.Contains("0/1 mask", e.Message);
    }

    [Fact]
    public void MaskFilesLoadFromPngAndBadFilesAreRegionErrors()
    {
        using var dir = new TempDir();
        using (var image = new Image<L8>(6, 3))
        {
            image[1, 1] = new L8(255);
            image[2, 1] = new L8(200);
            image.SaveAsPng(dir.File("mask.png"));
        }
        Assert.Equal(MaskText.Rows("......", ".##...", "......"), MaskText.Of(MaskRegion.Load(dir.File("mask.png")).Rasterize(6, 3)));

        File.WriteAllText(dir.File("fake.png"), "not a png");
        var e = Assert.Throws<InvalidRegionException>(() => MaskRegion.Load(dir.File("fake.png")));
        Assert.Equal(InvalidRegionReason.Unreadable, e.Reason);
        Assert.Contains("fake.png", e.Message);
        Assert.Equal(InvalidRegionReason.Unreadable, Assert.Throws<InvalidRegionException>(() => MaskRegion.Load(dir.File("missing.png"))).Reason);
    }

    [Fact]
    public void WholeImageCoversEveryPixel()
    {
        Assert.Equal(35, WholeImageRegion.Instance.Rasterize(7, 5).Area());
    }

    [Fact]
    public void UnionIsThePixelwiseOr()
    {
        var union = new UnionRegion([new BoxRegion(0, 0, 2, 2), new BoxRegion(1, 1, 3, 3), new PolygonRegion([new(4, 0), new(5, 0), new(5, 3), new(4, 3)])]);
        Assert.Equal(MaskText.Rows(
            "##..#",
            "###.#",
            ".##.#",
            "....."), MaskText.Of(union.Rasterize(5, 4)));
    }

    [Fact]
    public void UnionErrorsNameThePart()
    {
        var e = Assert.Throws<InvalidRegionException>(() =>
            new UnionRegion([new BoxRegion(0, 0, 2, 2), new BoxRegion(50, 50, 60, 60)]).Rasterize(10, 10));
        Assert.Equal("[1].box", e.Field);
        Assert.Equal(InvalidRegionReason.OutsideImage, e.Reason);
        Assert.StartsWith("[1].box: ", e.Message);
        Assert.Equal(InvalidRegionReason.Malformed, Assert.Throws<InvalidRegionException>(() => new UnionRegion([])).Reason);
    }
}
