using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;

namespace RegionChat.Vision.Regions;

/// <summary>
/// The JSON region form (<see cref="RegionDescription"/>, the one grammar in RegionChat.Data) read straight into a
/// <see cref="Region"/> that can be drawn: mask files are loaded within <see cref="ImageLimits"/>.
/// </summary>
public static class RegionJson
{
    /// <summary>Parses a region description; relative mask paths resolve against <paramref name="baseDirectory"/> (default: current).</summary>
    public static Region Parse(string json, string? baseDirectory = null, ImageLimits? limits = null) =>
        Region.From(RegionDescription.Parse(json, baseDirectory), limits);

    /// <summary>Parses a region from a JSON file; relative mask paths resolve against the file's folder.</summary>
    public static Region ParseFile(string path, ImageLimits? limits = null) => Region.From(RegionDescription.ParseFile(path), limits);

    public static Region Parse(JsonElement element, string? baseDirectory = null, ImageLimits? limits = null) =>
        Region.From(RegionDescription.Parse(element, baseDirectory), limits);

    /// <summary>Parses a bare COCO RLE object {"size": [h,w], "counts": …}.</summary>
    public static CocoRle ParseRle(JsonElement element, string field = "rle") => RegionDescription.ParseRle(element, field).ToCocoRle(field);
}
