using RegionChat.Data.Regions;
using RegionChat.TestSupport;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Regions;

public class RegionJsonTests
{
    static string Draw(string json, int width, int height, string? baseDirectory = null) =>
        MaskText.Of(RegionJson.Parse(json, baseDirectory).Rasterize(width, height));

    [Fact]
    public void EachFormParsesToItsRegion()
    {
        Assert.Equal(MaskText.Rows("....", ".##.", "...."), Draw("""{"box": [1, 1, 3, 2]}""", 4, 3));
        Assert.Equal(MaskText.Rows("##..", "##..", "....", "...."), Draw("""{"box": [0, 0, 0.5, 0.5], "normalized": true}""", 4, 4));
        Assert.Equal(MaskText.Rows("###..", "##...", "#....", ".....", "....."), Draw("""{"polygon": [0,0, 4,0, 0,4]}""", 5, 5));
        Assert.Equal(MaskText.Rows("###..", "##...", "#....", ".....", "....."), Draw("""{"polygon": [[0,0], [4,0], [0,4]], "fill": "nonzero"}""", 5, 5));
        Assert.Equal(MaskText.Rows(".##.", ".##.", "..#."), Draw("""{"rle": {"size": [3, 4], "counts": "32112"}}""", 4, 3));
        Assert.Equal(MaskText.Rows(".##.", ".##.", "..#."), Draw("""{"rle": {"size": [3, 4], "counts": [3, 2, 1, 3, 3]}}""", 4, 3));
        Assert.Equal(MaskText.Rows("......", ".####.", ".####.", "......"), Draw("""{"scribble": {"points": [2, 2, 4, 2], "width": 2}}""", 6, 4));
        Assert.Equal(MaskText.Rows("###", "###"), Draw("""{"whole": true}""", 3, 2));
        Assert.IsType<WholeImageRegion>(RegionJson.Parse("""{"whole": true}"""));
    }

    [Fact]
    public void PolygonFillRuleIsRead()
    {
        var polygon = Assert.IsType<PolygonRegion>(RegionJson.Parse("""{"polygon": [0,0, 4,0, 0,4], "fill": "nonzero"}"""));
        Assert.Equal(FillRule.NonZero, polygon.Fill);
        Assert.Equal(FillRule.EvenOdd, Assert.IsType<PolygonRegion>(RegionJson.Parse("""{"polygon": [0,0, 4,0, 0,4]}""")).Fill);
    }

    [Fact]
    public void ArrayIsAUnion()
    {
        var region = RegionJson.Parse("""[{"box": [0, 0, 1, 1]}, {"box": [3, 2, 4, 3]}]""");
        Assert.IsType<UnionRegion>(region);
        Assert.Equal(MaskText.Rows("#...", "....", "...#"), MaskText.Of(region.Rasterize(4, 3)));
    }

    [Fact]
    public void MaskPathsAreRelativeToTheBaseDirectoryOrTheJsonFile()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("masks"));
        using (var image = new Image<L8>(3, 2))
        {
            image[2, 1] = new L8(255);
            image.SaveAsPng(dir.File("masks/m.png"));
        }
        Assert.Equal(MaskText.Rows("...", "..#"), Draw("""{"mask": "masks/m.png"}""", 3, 2, dir.Path));
        File.WriteAllText(dir.File("masks/region.json"), """[{"mask": "m.png"}, {"box": [0, 0, 1, 1]}]""");
        Assert.Equal(MaskText.Rows("#..", "..#"), MaskText.Of(RegionJson.ParseFile(dir.File("masks/region.json")).Rasterize(3, 2)));
    }

    public static TheoryData<string, string, InvalidRegionReason> BadJson => new()
    {
        { "{not json", "region", InvalidRegionReason.Malformed },
        { "{}", "region", InvalidRegionReason.Malformed },
        { "42", "region", InvalidRegionReason.Malformed },
        { """{"box": [0,0,1,1], "colour": "red"}""", "region", InvalidRegionReason.Malformed },
        { """{"box": [0,0,1,1], "polygon": [0,0,1,0,1,1]}""", "region", InvalidRegionReason.Malformed },
        { """{"box": [0,0,1]}""", "box", InvalidRegionReason.Malformed },
        { """{"box": [0,0,"1",1]}""", "box", InvalidRegionReason.Malformed },
        { """{"box": [0,0,1,1], "normalized": "yes"}""", "normalized", InvalidRegionReason.Malformed },
        { """{"polygon": [0,0,1,0,1]}""", "polygon", InvalidRegionReason.Malformed },
        { """{"polygon": [0,0,4,0,0,4], "fill": "odd"}""", "fill", InvalidRegionReason.Malformed },
        { """{"rle": {"size": [3,4], "counts": "3211~"}}""", "rle.counts", InvalidRegionReason.Malformed },
        { """{"rle": {"size": [3,4], "counts": [3,2,1]}}""", "rle.counts", InvalidRegionReason.Malformed },
        { """{"rle": {"size": [3,4], "counts": [3,2.5,1,3,2.5]}}""", "rle.counts", InvalidRegionReason.Malformed },
        { """{"rle": {"size": [3], "counts": "32112"}}""", "rle.size", InvalidRegionReason.Malformed },
        { """{"rle": {"counts": "32112"}}""", "rle", InvalidRegionReason.Malformed },
        { """{"scribble": {"points": [1,1], "width": -2}}""", "scribble.width", InvalidRegionReason.Malformed },
        { """{"scribble": {"points": [1,1]}}""", "scribble", InvalidRegionReason.Malformed },
        { """{"whole": false}""", "whole", InvalidRegionReason.Malformed },
        { """{"mask": "does-not-exist.png"}""", "mask", InvalidRegionReason.Unreadable },
        { """[{"box": [0,0,1,1]}, {"polygon": [1,2]}]""", "[1].polygon", InvalidRegionReason.Malformed },
        { """[[{"box": [0,0,1,1]}]]""", "[0].region", InvalidRegionReason.Malformed },
        { "[]", "regions", InvalidRegionReason.Malformed },
    };

    [Theory]
    [MemberData(nameof(BadJson))]
    public void BadDescriptionsNameTheField(string json, string field, InvalidRegionReason reason)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidRegionException>(() => RegionJson.Parse(json, dir.Path));
        Assert.True(field == e.Field && reason == e.Reason, $"{json}: got {e.Field} / {e.Reason}: {e.Message}");
    }

    [Fact]
    public void ValidDescriptionOutsideTheImageFailsAtRasterisation()
    {
        var region = RegionJson.Parse("""[{"box": [0,0,2,2]}, {"rle": {"size": [3,4], "counts": "32112"}}]""");
        var e = Assert.Throws<InvalidRegionException>(() => region.Rasterize(10, 10));
        Assert.Equal("[1].rle", e.Field);
        Assert.Equal(InvalidRegionReason.SizeMismatch, e.Reason);
    }
}
