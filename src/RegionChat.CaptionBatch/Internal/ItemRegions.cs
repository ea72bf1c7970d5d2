using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>An item's region, parsed when the item is about to run (mask files are read then, not all up front).</summary>
internal static class ItemRegions
{
    /// <summary>The region, drawable in-process, or the error record's text for a region that cannot be used.</summary>
    public static (Region? Region, string? Error) Parse(WorkItem item, string inputFolder)
    {
        try
        {
            return (Region.From(RegionDescription.Parse(item.Input.Region, inputFolder)), null);
        }
        catch (InvalidRegionException e)
        {
            return (null, ErrorText(e));
        }
    }

    /// <summary>The region as described (checked as it will be drawn, so a server is sent only regions that parse), or
    /// the error record's text.</summary>
    public static (RegionDescription? Description, string? Error) Describe(WorkItem item, string inputFolder)
    {
        try
        {
            var description = RegionDescription.Parse(item.Input.Region, inputFolder);
            _ = Region.From(description);
            return (description, null);
        }
        catch (InvalidRegionException e)
        {
            return (null, ErrorText(e));
        }
    }

    /// <summary>An error record's text for a bad region: "region: …", once (the parser already names "region" itself
    /// when the whole object is wrong).</summary>
    public static string ErrorText(InvalidRegionException e) =>
        e.Message.StartsWith("region:", StringComparison.Ordinal) ? e.Message : "region: " + e.Message;
}
