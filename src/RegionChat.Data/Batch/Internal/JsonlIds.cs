using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RegionChat.Data.Batch.Internal;

/// <summary>
/// The "id" of a JSONL record as a string. A non-empty string or an integer is accepted; an integer 7 and the string
/// "7" are the same id (the batch output writes an integer input id back as an integer; outputs of older runs hold the
/// string, and still match on resume).
/// </summary>
internal static class JsonlIds
{
    public static string? FromElement(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() is { Length: > 0 } s ? s : null,
        JsonValueKind.Number => e.TryGetInt64(out long v) ? v.ToString(CultureInfo.InvariantCulture) : null,
        _ => null,
    };

    public static string? FromNode(JsonNode? node)
    {
        if (node is not JsonValue value) return null;
        if (value.TryGetValue(out string? s)) return s is { Length: > 0 } ? s : null;
        if (value.TryGetValue(out long l)) return l.ToString(CultureInfo.InvariantCulture);
        if (value.TryGetValue(out int i)) return i.ToString(CultureInfo.InvariantCulture);
        if (value.TryGetValue(out JsonElement e)) return FromElement(e);
        return null;
    }

    /// <summary>Parses one JSONL line that must be an object with an "id"; errors name <paramref name="where"/>. The
    /// caller disposes the document.</summary>
    public static JsonDocument ParseRecord(ReadOnlyMemory<byte> line, string where, out string id)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: not valid JSON ({e.Message})", e);
        }
        try
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
            if (!root.TryGetProperty("id", out var idElement))
                throw new InvalidDataException($"{where}: missing \"id\"");
            id = FromElement(idElement)
                ?? throw new InvalidDataException($"{where}: \"id\" must be a non-empty string or an integer");
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>A short printable form of an id for error messages.</summary>
    public static string Quote(string id) => JsonSerializer.Serialize(id.Length <= 80 ? id : id[..80] + "…");
}
