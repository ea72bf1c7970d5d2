using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// Strings of a parsed body that are not text. JsonDocument checks the structure but not the strings: a string with
/// bytes that are not UTF-8, or with an escape of half a surrogate pair ("\ud800"), parses, and fails only when it is
/// read. This finds the first such string (a value or a property name) and its path ("" for the body's top level).
/// </summary>
internal static class JsonText
{
    public static (string Path, string Problem)? FindInvalid(JsonElement e, string path = "")
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                try { _ = e.GetString(); }
                catch (InvalidOperationException) { return (path, "is not valid text: it holds " + Why(JsonMarshal.GetRawUtf8Value(e))); }
                return null;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray())
                    if (FindInvalid(item, $"{path}[{i++}]") is { } found) return found;
                return null;
            case JsonValueKind.Object:
                foreach (var property in e.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException)
                    {
                        return (path, "has a property name that is not valid text: it holds " +
                            Why(JsonMarshal.GetRawUtf8PropertyName(property)));
                    }
                    if (FindInvalid(property.Value, path.Length > 0 ? $"{path}.{name}" : name) is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }

    static string Why(ReadOnlySpan<byte> raw) => Utf8.IsValid(raw)
        ? "half of a surrogate pair (an escape in \\ud800-\\udfff without its other half)"
        : "bytes that are not UTF-8";
}
