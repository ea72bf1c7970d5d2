using Google.Protobuf;
using RegionChat.Data.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>The typed regions map to the proto Region field by field, and the JSON form parses to the same regions.</summary>
public class ImageRegionTests
{
    [Fact]
    public void EveryKindMapsToItsProtoForm()
    {
        Assert.Equal(new PbV1.Region { Box = new PbV1.Box { X0 = 1, Y0 = 2, X1 = 30, Y1 = 40 } }, ImageRegion.Box(1, 2, 30, 40).ToProto());
        Assert.Equal(new PbV1.Region { Box = new PbV1.Box { X0 = 0.1f, Y0 = 0.2f, X1 = 0.5f, Y1 = 1, Normalized = true } },
            ImageRegion.NormalizedBox(0.1f, 0.2f, 0.5f, 1).ToProto());
        Assert.Equal(new PbV1.Region { Polygon = new PbV1.Polygon { Points = { 0, 0, 10, 0, 5, 8 }, FillRule = PbV1.FillRule.NonZero } },
            ImageRegion.Polygon([(0, 0), (10, 0), (5, 8)], nonZeroFill: true).ToProto());
        Assert.Equal(new PbV1.Region { Scribble = new PbV1.Scribble { Points = { 1, 1, 9, 9 }, Width = 3 } },
            ImageRegion.Scribble([(1, 1), (9, 9)], 3).ToProto());
        byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G'];
        Assert.Equal(new PbV1.Region { MaskPng = ByteString.CopyFrom(png) }, ImageRegion.Mask(png).ToProto());
        Assert.Equal(new PbV1.Region { Rle = new PbV1.CocoRle { Size = { 4, 5 }, Compressed = "52203" } }, ImageRegion.Rle(4, 5, "52203").ToProto());
        Assert.Equal(new PbV1.Region { Rle = new PbV1.CocoRle { Size = { 4, 5 }, Uncompressed = new PbV1.CountList { Counts = { 3, 4, 13 } } } },
            ImageRegion.Rle(4, 5, [3u, 4u, 13u]).ToProto());
        Assert.Equal(new PbV1.Region { WholeImage = true }, ImageRegion.Whole.ToProto());
        var union = ImageRegion.Union(ImageRegion.Box(0, 0, 1, 1), ImageRegion.Whole).ToProto();
        Assert.Equal(2, union.Union.Regions.Count);
        Assert.Equal(PbV1.Region.KindOneofCase.Box, union.Union.Regions[0].KindCase);
        var proto = new PbV1.Region { Box = new PbV1.Box { X0 = 3, Y0 = 3, X1 = 9, Y1 = 9 } };
        Assert.Equal(proto, ImageRegion.FromProto(proto).ToProto());
    }

    [Fact]
    public void TheJsonFormParsesToTheSameRegions()
    {
        Assert.Equal(ImageRegion.Box(1, 2, 30, 40), ImageRegionJson.Parse("""{"box": [1, 2, 30, 40]}"""));
        Assert.Equal(ImageRegion.NormalizedBox(0, 0, 0.5f, 0.5f), ImageRegionJson.Parse("""{"box": [0, 0, 0.5, 0.5], "normalized": true}"""));
        Assert.Equal(ImageRegion.Polygon([(0, 0), (10, 0), (5, 8)]), ImageRegionJson.Parse("""{"polygon": [[0, 0], [10, 0], [5, 8]]}"""));
        Assert.Equal(ImageRegion.Polygon([(0, 0), (10, 0), (5, 8)], true), ImageRegionJson.Parse("""{"polygon": [0, 0, 10, 0, 5, 8], "fill": "nonzero"}"""));
        Assert.Equal(ImageRegion.Scribble([(1, 1), (9, 9)], 3), ImageRegionJson.Parse("""{"scribble": {"points": [1, 1, 9, 9], "width": 3}}"""));
        Assert.Equal(ImageRegion.Rle(4, 5, "52203"), ImageRegionJson.Parse("""{"rle": {"size": [4, 5], "counts": "52203"}}"""));
        Assert.Equal(ImageRegion.Rle(4, 5, [3u, 4u, 13u]), ImageRegionJson.Parse("""{"rle": {"size": [4, 5], "counts": [3, 4, 13]}}"""));
        Assert.Equal(ImageRegion.Whole, ImageRegionJson.Parse("""{"whole": true}"""));
        Assert.Equal(ImageRegion.Union(ImageRegion.Box(0, 0, 4, 4), ImageRegion.Whole), ImageRegionJson.Parse("""[{"box": [0, 0, 4, 4]}, {"whole": true}]"""));
        byte[] png = [1, 2, 3, 4];
        Assert.Equal(ImageRegion.Mask(png), ImageRegionJson.Parse($$"""{"mask": "data:image/png;base64,{{Convert.ToBase64String(png)}}"}"""));
        string dir = Path.Combine(Path.GetTempPath(), "regionchat-client-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "m.png"), png);
            Assert.Equal(ImageRegion.Mask(png), ImageRegionJson.Parse("""{"mask": "m.png"}""", dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ADescriptionBecomesTheRegionItDescribes()
    {
        Assert.Equal(ImageRegion.NormalizedBox(0, 0, 0.5f, 0.5f), ImageRegion.From(new RegionDescription.Box(0, 0, 0.5, 0.5, Normalized: true)));
        Assert.Equal(ImageRegion.Polygon([(0, 0), (10, 0), (5, 8)], true),
            ImageRegion.From(new RegionDescription.Polygon([(0, 0), (10, 0), (5, 8)], NonZeroFill: true)));
        Assert.Equal(ImageRegion.Rle(4, 5, [3u, 4u, 13u]), ImageRegion.From(new RegionDescription.Rle(4, 5, null, [3, 4, 13])));
        Assert.Equal(ImageRegion.Union(ImageRegion.Scribble([(1, 1), (9, 9)], 3), ImageRegion.Whole),
            ImageRegion.From(new RegionDescription.Union([new RegionDescription.Scribble([(1, 1), (9, 9)], 3), RegionDescription.Whole.Instance])));
        // A mask file goes as its bytes, unchanged: the server decodes exactly what the file holds.
        string path = Path.Combine(Path.GetTempPath(), "regionchat-client-" + Guid.NewGuid().ToString("N") + ".png");
        byte[] png = [9, 8, 7];
        File.WriteAllBytes(path, png);
        try
        {
            Assert.Equal(ByteString.CopyFrom(png), ImageRegion.From(new RegionDescription.MaskFile(path)).ToProto().MaskPng);
        }
        finally { File.Delete(path); }
        // What the factories refuse is refused here too, a union's part named by its index.
        Assert.Contains("x1 > x0", Assert.Throws<ArgumentException>(() => ImageRegion.From(new RegionDescription.Box(5, 5, 1, 1))).Message);
        var e = Assert.Throws<ArgumentException>(() => ImageRegion.From(new RegionDescription.Union(
            [RegionDescription.Whole.Instance, new RegionDescription.MaskFile(path + ".absent")])));
        Assert.StartsWith("region[1]: mask: cannot read", e.Message);
    }

    [Theory]
    [InlineData("""{"box": [1, 2, 3]}""", "box: needs [x0, y0, x1, y1]")]
    [InlineData("""{"box": [5, 5, 1, 1]}""", "x1 > x0")]
    [InlineData("""{"bx": [1, 2, 3, 4]}""", "needs one of the keys")]
    [InlineData("""{"box": [1, 2, 3, 4], "polygon": [1, 2]}""", "several kinds")]
    [InlineData("""{"box": [1, 2, 3, 4], "normalised": true}""", "unknown key \"normalised\"")]
    [InlineData("""{"polygon": [0, 0, 1, 1]}""", "at least 3 points")]
    [InlineData("""{"polygon": [0, 0, 1]}""", "x, y pairs")]
    [InlineData("""{"scribble": {"points": [0, 0], "width": 0}}""", "positive number")]
    [InlineData("""{"rle": {"size": [0, 5], "counts": "1"}}""", "rle.size")]
    [InlineData("""{"rle": {"size": [2, 2], "counts": [-1]}}""", "rle.counts")]
    [InlineData("""{"whole": false}""", "only true")]
    [InlineData("""{"mask": "data:image/png,abc"}""", "base64")]
    [InlineData("""[{"box": [0, 0, 1, 1]}, [{"whole": true}]]""", "nested arrays")]
    [InlineData("""[{"box": [0, 0, 1, 1]}, {"box": "x"}]""", "region[1]: box")]
    [InlineData("{box", "not valid JSON")]
    public void MalformedJsonIsAnArgumentExceptionNamingTheKey(string json, string expected)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => ImageRegionJson.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void InvalidRegionsFailWhenBuilt()
    {
        Assert.Throws<ArgumentException>(() => ImageRegion.Box(float.NaN, 0, 1, 1));
        Assert.Throws<ArgumentException>(() => ImageRegion.Polygon([(0, 0), (1, float.PositiveInfinity), (2, 2)]));
        Assert.Throws<ArgumentException>(() => ImageRegion.Mask(ReadOnlyMemory<byte>.Empty));
        Assert.Throws<ArgumentException>(() => ImageRegion.Union());
        Assert.Throws<ArgumentException>(() => ImageRegion.Rle(0, 4, "1"));
    }
}
