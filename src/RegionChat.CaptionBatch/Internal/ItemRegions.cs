using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>An item's region, parsed when the item is about to run (mask files are read then, not all up front).</summary>
internal static class ItemRegions
{
    /// <summary>The region, or the error record's text for a region that cannot be used.</summary>
    public static (Region? Region, string? Error) Parse(WorkItem item, string inputFolder)
    {
        try
        {
            return (RegionJson.Parse(item.Input.Region, inputFolder), null);
        }
        catch (InvalidRegionException e)
        {
            return (null, "region: " + e.Message);
        }
    }
}
