namespace RegionChat.Inference;

/// <summary>
/// What a client sent, as error messages may quote it: ids and other request text are cut to
/// <see cref="QuotedChars"/> characters, and a whole message to <see cref="MessageChars"/>, each with "…(N chars)" for
/// what was cut. A 100,000-character id echoed in grpc-message overflowed clients' header limits.
/// </summary>
public static class ClientText
{
    public const int QuotedChars = 64, MessageChars = 1024;

    /// <summary>An id or other request text, as an error message quotes it.</summary>
    public static string Quote(string text) => Cut(text, QuotedChars);

    /// <summary>A whole error message (or a field violation's description), bounded.</summary>
    public static string Bound(string message) => Cut(message, MessageChars);

    static string Cut(string text, int max)
    {
        if (text.Length <= max) return text;
        int n = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max; // never half a surrogate pair
        return $"{text[..n]}…({text.Length} chars)";
    }
}
