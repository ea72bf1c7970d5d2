using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>An item's region, parsed when the item is about to run (mask files are read then, not all up front).</summary>
internal static class ItemRegions
{
    /// <summary>The region, drawable in-process, or the error record's text for a region that cannot be used;
    /// <c>Transient</c>: a mask file's read failed in a way that may work when tried again (EIO, a stale NFS handle).</summary>
    public static (Region? Region, string? Error, bool Transient) Parse(WorkItem item, string inputFolder)
    {
        try
        {
            return (Region.From(RegionDescription.Parse(item.Input.Region, inputFolder)), null, false);
        }
        catch (InvalidRegionException e)
        {
            return (null, ErrorText(e), IsTransient(e));
        }
    }

    /// <summary>The region as described (checked as it will be drawn, so a server is sent only regions that parse), or
    /// the error record's text (<c>Transient</c> as for <see cref="Parse"/>).</summary>
    public static (RegionDescription? Description, string? Error, bool Transient) Describe(WorkItem item, string inputFolder)
    {
        try
        {
            var description = RegionDescription.Parse(item.Input.Region, inputFolder);
            _ = Region.From(description);
            return (description, null, false);
        }
        catch (InvalidRegionException e)
        {
            return (null, ErrorText(e), IsTransient(e));
        }
    }

    /// <summary>The region's file (a mask) could not be read for a reason that may pass, as <see cref="LocalImages.IsTransient"/>
    /// says of images; a missing or undecodable file is the item's own fault.</summary>
    static bool IsTransient(InvalidRegionException e)
    {
        for (Exception? inner = e.InnerException; inner != null; inner = inner.InnerException)
            if (inner is IOException io) return LocalImages.IsTransient(io);
        return false;
    }

    /// <summary>An error record's text for a bad region: "region: …", once (the parser already names "region" itself
    /// when the whole object is wrong).</summary>
    public static string ErrorText(InvalidRegionException e) =>
        e.Message.StartsWith("region:", StringComparison.Ordinal) ? e.Message : "region: " + e.Message;
}
