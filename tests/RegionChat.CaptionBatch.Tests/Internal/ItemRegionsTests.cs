using System.Text.Json;
using RegionChat.CaptionBatch.Internal;
using RegionChat.Data.Batch;
using RegionChat.Data.Regions;
using RegionChat.TestSupport;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>An item's region: parsed with mask paths relative to the input file, checked as it will be drawn, and a
/// region that cannot be used is the error record's text, never an exception.</summary>
public class ItemRegionsTests
{
    static WorkItem Item(string regionJson) =>
        new(new BatchInputItem("x", "x.png", JsonDocument.Parse(regionJson).RootElement.Clone(), null, 1));

    [Fact]
    public void AMaskPathIsRelativeToTheInputFolder()
    {
        using var temp = new TempDir();
        using (var mask = new Image<L8>(8, 6)) mask.SaveAsPng(temp.File("m.png"));

        var (description, error, _) = ItemRegions.Describe(Item("""{"mask": "m.png"}"""), temp.Path);
        Assert.Null(error);
        Assert.Equal(new RegionDescription.MaskFile(temp.File("m.png")), description);
        var (region, _, _) = ItemRegions.Parse(Item("""{"mask": "m.png"}"""), temp.Path);
        var drawn = Assert.IsType<MaskRegion>(region);
        Assert.Equal((8, 6), (drawn.Width, drawn.Height));
    }

    [Theory]
    [InlineData("""{"polygon": [1, 2, 3, 4]}""", "region: polygon: ")]
    [InlineData("""{"box": [5, 5, 1, 1]}""", "region: box: ")]
    [InlineData("""{"circle": 3}""", "region: needs one of the keys ")] // "region:" once (issue 15: was "region: region: ")
    [InlineData("""{"mask": "m.png", "box": [0, 0, 4, 4]}""", "region: has several kinds (mask, box)")]
    [InlineData("""{"mask": "no-such-mask.png"}""", "region: mask: ")]
    [InlineData("""{"mask": "not-an-image.png"}""", "region: mask: ")]
    [InlineData("""[{"whole": true}, {"box": [0, 0, 0, 0]}]""", "region: [1].box: ")]
    public void ARegionThatCannotBeDrawnIsTheErrorText(string json, string expected)
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.File("not-an-image.png"), "text");

        var (description, error, transient) = ItemRegions.Describe(Item(json), temp.Path);
        Assert.Null(description);
        Assert.StartsWith(expected, error);
        Assert.False(transient); // the item's own fault: an error record
        var (region, parseError, parseTransient) = ItemRegions.Parse(Item(json), temp.Path);
        Assert.Null(region);
        Assert.Equal(error, parseError);
        Assert.False(parseTransient);
    }

    [SkippableFact]
    public void AMaskFileWhoseReadFailsWithAnIoErrorIsTransient()
    {
        Skip.If(EioFile.Path == null, EioFile.Missing);
        string json = JsonSerializer.Serialize(new { mask = EioFile.Path });
        var (description, error, transient) = ItemRegions.Describe(Item(json), "/");
        Assert.Null(description);
        Assert.StartsWith("region: mask: ", error);
        Assert.True(transient);
        var (region, _, parseTransient) = ItemRegions.Parse(Item(json), "/");
        Assert.Null(region);
        Assert.True(parseTransient);
    }
}
