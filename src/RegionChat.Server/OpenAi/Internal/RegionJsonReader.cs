using System.Security.Cryptography;
using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// The "region" extension of an image_url content part: the shared JSON region form of <see cref="RegionJson"/>
/// (box, polygon, rle, scribble, whole, and an array for a union), except that a mask is never a server path but
/// <c>{"mask": "data:image/png;base64,…"}</c>.
/// </summary>
internal static class RegionJsonReader
{
    public static RegionSource Read(JsonElement element, ImageLimits limits, RegionBudget budget, string field)
    {
        Region region;
        var cost = budget.Start();
        try
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                cost.Union("", element.GetArrayLength(), 1);
                var parts = new List<Region>();
                foreach (var item in element.EnumerateArray())
                {
                    try
                    {
                        if (item.ValueKind == JsonValueKind.Array)
                            throw new InvalidRegionException("", InvalidRegionReason.Malformed, "a union holds region objects, not nested arrays");
                        parts.Add(ReadObject(item, limits, cost));
                    }
                    catch (InvalidRegionException e) { throw Under(e, $"[{parts.Count}]"); }
                }
                region = new UnionRegion(parts);
            }
            else region = ReadObject(element, limits, cost);
        }
        catch (InvalidRegionException e)
        {
            throw OpenAiException.BadRequest($"{Join(field, e.Field)}: {e.Description}", Join(field, e.Field), "invalid_region");
        }
        // The key names the description: the same region sent again (say, in a follow-up request) hits the cache.
        string key = "json:" + Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(element)));
        return RegionSource.Of(region, key);
    }

    static Region ReadObject(JsonElement e, ImageLimits limits, RegionCost cost)
    {
        if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("mask", out var mask))
        {
            if (e.EnumerateObject().Count() != 1)
                throw new InvalidRegionException("", InvalidRegionReason.Malformed, "a mask region has only the key \"mask\"");
            if (mask.ValueKind != JsonValueKind.String || !mask.GetString()!.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
                throw new InvalidRegionException("mask", InvalidRegionReason.Malformed,
                    "must be a data URL \"data:image/png;base64,…\" (the server does not read mask files)");
            byte[] bytes;
            try { bytes = DataUrl.Decode(mask.GetString()!, limits.MaxBytes, "mask", "the mask"); }
            catch (OpenAiException o) { throw new InvalidRegionException("mask", InvalidRegionReason.Malformed, o.Message); }
            try { return MaskRegion.Decode(bytes, limits, cost); }
            catch (InvalidRegionException m) { throw new InvalidRegionException("mask", m.Reason, m.Description); }
        }
        // No mask key is left, so no file is read.
        return Region.From(RegionDescription.Parse(e), limits, cost);
    }

    static InvalidRegionException Under(InvalidRegionException e, string prefix) =>
        new(e.Field.Length == 0 ? prefix : e.Field.StartsWith('[') ? prefix + e.Field : prefix + "." + e.Field, e.Reason, e.Description);

    public static string Join(string field, string sub) =>
        sub.Length == 0 || sub == "region" ? field : sub.StartsWith('[') ? field + sub : field + "." + sub;
}
