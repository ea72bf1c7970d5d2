using System.Text;
using System.Text.Json;

namespace RegionChat.TestSupport;

/// <summary>System.Text.Json's verdict on the start of a constrained answer: no error so far, an object at the top, and
/// nothing after it closes.</summary>
public static class JsonPrefix
{
    public static bool IsObjectSoFar(string text) => IsObjectSoFar(Encoding.UTF8.GetBytes(text));

    public static bool IsObjectSoFar(ReadOnlySpan<byte> prefix)
    {
        int start = prefix.IndexOfAnyExcept(" \t\n\r"u8);
        if (start >= 0 && prefix[start] != '{') return false;      // a reader still waits for the end of a number
        var reader = new Utf8JsonReader(prefix, isFinalBlock: false, default);
        try
        {
            while (reader.Read())
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0)
                    return reader.BytesConsumed == prefix.Length;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
