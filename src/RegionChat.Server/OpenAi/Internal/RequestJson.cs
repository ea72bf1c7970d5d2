using System.Text.Json;
using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>The parts the /v1 endpoints beside chat (classify, embeddings) read alike: the body as JSON, "model" and
/// "regions", each fault a 400 naming its field.</summary>
internal static class RequestJson
{
    /// <summary>Parses <paramref name="body"/> and reads it with <paramref name="read"/>; malformed JSON and text that is
    /// not valid (bytes that are not UTF-8, half a surrogate pair) are 400s.</summary>
    public static T Read<T>(byte[] body, Func<JsonElement, T> read)
    {
        try
        {
            using var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw OpenAiException.BadRequest("the request body must be a JSON object", code: "invalid_request");
            return read(json.RootElement);
        }
        catch (JsonException e) { throw OpenAiException.BadRequest($"the request body is not valid JSON: {e.Message}", code: "invalid_json"); }
        catch (InvalidOperationException e)
        {
            throw OpenAiException.BadRequest($"the request body holds text that is not valid: {e.Message}", code: "invalid_text");
        }
    }

    /// <summary>"model": a string, or absent for the default model.</summary>
    public static string Model(JsonElement root) =>
        Present(root, "model", out var m) ? m.ValueKind == JsonValueKind.String ? m.GetString()!
            : throw OpenAiException.BadRequest("model must be a string", "model") : "";

    /// <summary>Whether <paramref name="obj"/> has the field with a value other than null: OpenAI's clients send unset
    /// optional fields as null, which means absent.</summary>
    public static bool Present(JsonElement obj, string name, out JsonElement value) =>
        obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>"regions": at most 16 regions in the region JSON form, or absent.</summary>
    public static List<RegionSource> Regions(JsonElement root, RegionChatCoreOptions options)
    {
        var regions = new List<RegionSource>();
        if (!Present(root, "regions", out var r)) return regions;
        if (r.ValueKind != JsonValueKind.Array) throw OpenAiException.BadRequest("regions must be an array of regions", "regions");
        if (r.GetArrayLength() > 16) throw OpenAiException.BadRequest($"regions holds {r.GetArrayLength()} regions; the limit is 16", "regions");
        int i = 0;
        var cost = options.Regions.Start();
        foreach (var region in r.EnumerateArray()) regions.Add(RegionJsonReader.Read(region, options, $"regions[{i++}]", cost));
        return regions;
    }
}
