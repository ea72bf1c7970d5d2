using RegionChat.Data.Regions;
using RegionChat.TestSupport;

namespace RegionChat.Data.Tests.Regions;

/// <summary>The one region JSON grammar: every kind parses to its plain description and is written back the same.</summary>
public class RegionDescriptionTests
{
    [Fact]
    public void WithABudgetLongPointAndRunListsAreRefusedByTheirLength()
    {
        var budget = new RegionBudget { MaxPoints = 3, MaxRleRuns = 4 };
        InvalidRegionException Refused(string json) =>
            Assert.Throws<InvalidRegionException>(() => RegionDescription.Parse(System.Text.Json.JsonDocument.Parse(json).RootElement, budget: budget));
        Assert.Equal("polygon", Refused("""{"polygon": [0, 0, 9, 0, 9, 9, 0, 9]}""").Field);
        Assert.Equal("polygon", Refused("""{"polygon": [[0, 0], [9, 0], [9, 9], [0, 9]]}""").Field);
        Assert.Equal("scribble.points", Refused("""{"scribble": {"points": [0, 0, 1, 1, 2, 2, 3, 3], "width": 1}}""").Field);
        var runs = Refused("""{"rle": {"size": [3, 4], "counts": [3, 2, 1, 3, 3]}}""");
        Assert.Equal((InvalidRegionReason.OverBudget, "rle.counts"), (runs.Reason, runs.Field));
        // Within it, and without one, the same lists parse.
        Assert.IsType<RegionDescription.Polygon>(RegionDescription.Parse(System.Text.Json.JsonDocument.Parse("""{"polygon": [0, 0, 9, 0, 9, 9]}""").RootElement, budget: budget));
        Assert.IsType<RegionDescription.Polygon>(RegionDescription.Parse("""{"polygon": [0, 0, 9, 0, 9, 9, 0, 9]}"""));
    }

    [Fact]
    public void EveryKindParsesToItsDescription()
    {
        var box = Assert.IsType<RegionDescription.Box>(RegionDescription.Parse("""{"box": [1, 2, 30.5, 40], "normalized": false}"""));
        Assert.Equal(new RegionDescription.Box(1, 2, 30.5, 40), box);
        var polygon = Assert.IsType<RegionDescription.Polygon>(RegionDescription.Parse("""{"polygon": [[0, 0], [10, 0], [5, 8]], "fill": "non-zero"}"""));
        Assert.Equal(new[] { (0d, 0d), (10d, 0d), (5d, 8d) }, polygon.Points);
        Assert.True(polygon.NonZeroFill);
        var scribble = Assert.IsType<RegionDescription.Scribble>(RegionDescription.Parse("""{"scribble": {"points": [1, 1, 9, 9], "width": 2.5}}"""));
        Assert.Equal(new[] { (1d, 1d), (9d, 9d) }, scribble.Points);
        Assert.Equal(2.5, scribble.Width);
        var rle = Assert.IsType<RegionDescription.Rle>(RegionDescription.Parse("""{"rle": {"size": [3, 4], "counts": [3, 2, 1, 3, 3]}}"""));
        Assert.Equal((3, 4, (string?)null), (rle.Height, rle.Width, rle.Compressed));
        Assert.Equal(new long[] { 3, 2, 1, 3, 3 }, rle.Counts!);
        Assert.Equal("32112", rle.ToCocoRle().ToCompressedString());
        Assert.Same(RegionDescription.Whole.Instance, RegionDescription.Parse("""{"whole": true}"""));
        var union = Assert.IsType<RegionDescription.Union>(RegionDescription.Parse("""[{"box": [0, 0, 4, 4], "normalized": true}, {"whole": true}]"""));
        Assert.Equal(new RegionDescription[] { new RegionDescription.Box(0, 0, 4, 4, true), RegionDescription.Whole.Instance }, union.Parts);
    }

    [Fact]
    public void MasksAreAResolvedPathOrTheBytesOfADataUrl()
    {
        using var dir = new TempDir();
        Assert.Equal(new RegionDescription.MaskFile(Path.Combine(dir.Path, "masks/m.png")),
            RegionDescription.Parse("""{"mask": "masks/m.png"}""", dir.Path));
        File.WriteAllText(dir.File("region.json"), """{"mask": "m.png"}""");
        Assert.Equal(new RegionDescription.MaskFile(Path.Combine(dir.Path, "m.png")), RegionDescription.ParseFile(dir.File("region.json")));
        var bytes = Assert.IsType<RegionDescription.MaskBytes>(RegionDescription.Parse("""{"mask": "data:image/png;base64,AQIDBA=="}"""));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, bytes.Image);
    }

    [Theory]
    [InlineData("""{"box": [0, 0, 1, 1], "normalized": true}""")]
    [InlineData("""{"polygon": [0, 0, 10, 0.25, 5, 8], "fill": "nonzero"}""")]
    [InlineData("""{"polygon": [0, 0, 10, 0, 5, 8]}""")]
    [InlineData("""{"scribble": {"points": [1, 1, 9, 9], "width": 3}}""")]
    [InlineData("""{"rle": {"size": [4, 5], "counts": "52203"}}""")]
    [InlineData("""{"rle": {"size": [4, 5], "counts": [3, 4, 13]}}""")]
    [InlineData("""{"mask": "/data/m.png"}""")]
    [InlineData("""{"mask": "data:image/png;base64,AQIDBA=="}""")]
    [InlineData("""{"whole": true}""")]
    [InlineData("""[{"box": [0, 0, 4, 4]}, {"whole": true}]""")]
    public void WritingGivesBackTheJsonThatWasRead(string json)
    {
        string compact = System.Text.Json.Nodes.JsonNode.Parse(json)!.ToJsonString();
        Assert.Equal(compact, RegionDescription.Parse(json).ToJson());
    }

    public static TheoryData<string, string> BadJson => new()
    {
        { "{not json", "region" },
        { """{"box": [0,0,1,1], "colour": "red"}""", "region" },
        { """{"box": [0,0,1]}""", "box" },
        { """{"box": [0,0,1,1], "normalized": "yes"}""", "normalized" },
        { """{"polygon": [0,0,1,0,1]}""", "polygon" },
        { """{"polygon": [0,0,4,0,0,4], "fill": "odd"}""", "fill" },
        { """{"rle": {"size": [3,4], "counts": [3,-2,1]}}""", "rle.counts" },
        { """{"rle": {"size": [3,4], "counts": [3,2.5,1]}}""", "rle.counts" },
        { """{"rle": {"size": [0,4], "counts": "3"}}""", "rle.size" },
        { """{"scribble": {"points": [1,1], "width": "wide"}}""", "scribble.width" },
        { """{"mask": "data:image/png,abc"}""", "mask" },
        { """[{"box": [0,0,1,1]}, {"polygon": "x"}]""", "[1].polygon" },
        { """[[{"box": [0,0,1,1]}]]""", "[0].region" },
    };

    [Theory]
    [MemberData(nameof(BadJson))]
    public void BadFormsNameTheField(string json, string field)
    {
        var e = Assert.Throws<InvalidRegionException>(() => RegionDescription.Parse(json));
        Assert.Equal(field, e.Field);
        Assert.Equal(InvalidRegionReason.Malformed, e.Reason);
        Assert.StartsWith(field + ": ", e.Message);
    }
}
