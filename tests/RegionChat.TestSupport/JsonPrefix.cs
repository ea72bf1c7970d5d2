using System.Text;
using System.Text.Json;

namespace RegionChat.TestSupport;

/// <summary>System.Text.Json's verdict on the start of a constrained answer: no error so far, an object at the top, and
/// nothing after it closes; and the .NET runtime's on its UTF-8 (which the reader does not check inside strings).</summary>
public static class JsonPrefix
{
    public static bool IsObjectSoFar(string text) => IsObjectSoFar(Encoding.UTF8.GetBytes(text));

    public static bool IsObjectSoFar(ReadOnlySpan<byte> prefix)
    {
        int start = prefix.IndexOfAnyExcept(" \t\n\r"u8);
        if (start >= 0 && prefix[start] != '{') return false;      // a reader still waits for the end of a number
        if (!Utf8SoFar(prefix)) return false;
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

    /// <summary>Well-formed UTF-8, but for a last character that is cut short yet could still be completed.</summary>
    public static bool Utf8SoFar(ReadOnlySpan<byte> text)
    {
        while (!text.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(text, out _, out int used);
            if (status == System.Buffers.OperationStatus.NeedMoreData) return true;
            if (status != System.Buffers.OperationStatus.Done) return false;
            text = text[used..];
        }
        return true;
    }
}
