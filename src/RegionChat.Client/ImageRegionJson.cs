using System.Text.Json;
using RegionChat.Data.Regions;

namespace RegionChat.Client;

/// <summary>
/// Reads the JSON region form the CLI and batch files use (<see cref="RegionDescription"/>, the one grammar in
/// RegionChat.Data), so the same description works everywhere. One region is an object with one kind key; an array of
/// them is their union:
/// <code>
/// {"box": [x0,y0,x1,y1]}  + optional "normalized": true
/// {"polygon": [x,y,x,y,…]} + optional "fill": "evenodd"|"nonzero"   (points also as [[x,y],…])
/// {"scribble": {"points": [x,y,…], "width": w}}
/// {"rle": {"size": [h,w], "counts": "…" | [n,…]}}
/// {"mask": "path.png"}    a file (relative to baseDirectory), or a "data:image/png;base64,…" URL
/// {"whole": true}
/// </code>
/// Unknown keys are errors (a typo must not silently mean "whole image"). Errors are <see cref="ArgumentException"/>s that
/// name the offending key.
/// </summary>
public static class ImageRegionJson
{
    /// <summary>Parses a region; relative mask paths resolve against <paramref name="baseDirectory"/> (default: current).</summary>
    public static ImageRegion Parse(string json, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return ImageRegion.From(Describe(() => RegionDescription.Parse(json, baseDirectory)));
    }

    /// <summary>As <see cref="Parse(string, string?)"/>, for a parsed JSON element.</summary>
    public static ImageRegion Parse(JsonElement element, string? baseDirectory = null) =>
        ImageRegion.From(Describe(() => RegionDescription.Parse(element, baseDirectory)));

    static RegionDescription Describe(Func<RegionDescription> parse)
    {
        try
        {
            return parse();
        }
        catch (InvalidRegionException e)
        {
            throw new ArgumentException(Message(e.Field, e.Description), e);
        }
    }

    /// <summary>"[1].box" → "region[1]: box: …": a union's part is named from the region, as the client always did.</summary>
    static string Message(string field, string description)
    {
        if (!field.StartsWith('[')) return $"{field}: {description}";
        int end = field.IndexOf(']') + 1;
        string rest = field[end..].TrimStart('.');
        return $"region{field[..end]}: {(rest.Length > 0 ? rest + ": " : "")}{description}";
    }
}
