namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Cuts the output at the first stop string. Text that could be the start of a stop string is held back until the
/// next piece shows whether it is one, so no emitted piece ever contains (part of) a stop string.
/// </summary>
internal sealed class StopStringFilter(IReadOnlyList<string> stops)
{
    string held = "";

    public string? Matched { get; private set; }

    /// <summary>The text that can safely be emitted now. After a match, returns the text before it and sets <see cref="Matched"/>.</summary>
    public string Push(string text)
    {
        if (Matched != null) return "";
        string buffer = held + text;
        if (stops.Count == 0) { held = ""; return buffer; }

        int first = -1;
        foreach (string stop in stops)
        {
            int at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) { first = at; Matched = stop; }
        }
        if (first >= 0) { held = ""; return buffer[..first]; }

        int hold = 0;
        foreach (string stop in stops)
            for (int k = Math.Min(stop.Length - 1, buffer.Length); k > hold; k--)
                if (buffer.AsSpan(buffer.Length - k).SequenceEqual(stop.AsSpan(0, k))) { hold = k; break; }
        held = buffer[(buffer.Length - hold)..];
        return buffer[..(buffer.Length - hold)];
    }

    /// <summary>The held text, once the output has ended without completing a stop string.</summary>
    public string Flush()
    {
        string text = Matched == null ? held : "";
        held = "";
        return text;
    }
}
