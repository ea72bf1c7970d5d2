using System.Security.Cryptography;
using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// The "region" extension of an image_url content part: the shared JSON region form of <see cref="RegionDescription"/>
/// (box, polygon, rle, scribble, whole, and an array for a union), except that a mask is never a server path but
/// <c>{"mask": "data:image/png;base64,…"}</c>. The description is handed to the core, which makes the region at once
/// (within its image limits and region budget), so a bad one is a 400 before the request waits. The regions of one
/// request share one <see cref="RegionCost"/>: made at once, their masks are all held until the request runs, so the
/// budget's mask pixels bound the request, not each region.
/// </summary>
internal static class RegionJsonReader
{
    public static RegionSource Read(JsonElement element, RegionChatCoreOptions options, string field, RegionCost cost)
    {
        RegionSource source;
        // The key names the description: the same region sent again (say, in a follow-up request) hits the cache.
        string key = "json:" + Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(element)));
        try
        {
            RegionDescription description;
            if (element.ValueKind == JsonValueKind.Array)
            {
                // The size of a union is checked before its parts are read.
                options.Regions.Start().Union("", element.GetArrayLength(), 1);
                var parts = new List<RegionDescription>();
                foreach (var item in element.EnumerateArray())
                {
                    try
                    {
                        if (item.ValueKind == JsonValueKind.Array)
                            throw new InvalidRegionException("", InvalidRegionReason.Malformed, "a union holds region objects, not nested arrays");
                        parts.Add(ReadObject(item, options));
                    }
                    catch (InvalidRegionException e) { throw Under(e, $"[{parts.Count}]"); }
                }
                description = new RegionDescription.Union(parts);
            }
            else description = ReadObject(element, options);
            source = RegionSource.Build(description, key, options, cost);
        }
        catch (InvalidRegionException e)
        {
            throw OpenAiException.BadRequest($"{Join(field, e.Field)}: {e.Description}", Join(field, e.Field), "invalid_region");
        }
        return source;
    }

    static RegionDescription ReadObject(JsonElement e, RegionChatCoreOptions options)
    {
        if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("mask", out var mask))
        {
            if (e.EnumerateObject().Count() != 1)
                throw new InvalidRegionException("", InvalidRegionReason.Malformed, "a mask region has only the key \"mask\"");
            if (mask.ValueKind != JsonValueKind.String || !mask.GetString()!.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
                throw new InvalidRegionException("mask", InvalidRegionReason.Malformed,
                    "must be a data URL \"data:image/png;base64,…\" (the server does not read mask files)");
            try { return new RegionDescription.MaskBytes(DataUrl.Decode(mask.GetString()!, options.MaxImageBytes, "mask", "the mask")); }
            catch (OpenAiException o) { throw new InvalidRegionException("mask", InvalidRegionReason.Malformed, o.Message); }
        }
        // No mask key is left, so no file is ever read; point and run lists are checked by length before they are read.
        return RegionDescription.Parse(e, budget: options.Regions);
    }

    static InvalidRegionException Under(InvalidRegionException e, string prefix) =>
        new(e.Field.Length == 0 ? prefix : e.Field.StartsWith('[') ? prefix + e.Field : prefix + "." + e.Field, e.Reason, e.Description);

    public static string Join(string field, string sub) =>
        sub.Length == 0 || sub == "region" ? field : sub.StartsWith('[') ? field + sub : field + "." + sub;
}
