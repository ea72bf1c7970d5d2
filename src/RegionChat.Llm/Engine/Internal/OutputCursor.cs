namespace RegionChat.Llm.Engine.Internal;

/// <summary>Where a constrained answer stands in its <see cref="OutputFormat"/>: which bytes may follow, and whether it
/// may end here. One per request, on the scheduler's thread.</summary>
internal abstract class OutputCursor
{
    /// <summary>Whether <paramref name="bytes"/> may come next (tested without moving).</summary>
    public abstract bool Allows(ReadOnlySpan<byte> bytes);

    /// <summary>Moves past <paramref name="bytes"/>, which <see cref="Allows"/> accepted.</summary>
    public abstract void Advance(ReadOnlySpan<byte> bytes);

    /// <summary>The answer may end here.</summary>
    public abstract bool Complete { get; }

    /// <summary>Nothing may follow: only an end-of-generation token.</summary>
    public abstract bool Closed { get; }

    /// <summary>Inside a JSON string (not in an escape): a token of plain string bytes is allowed if
    /// <see cref="FitsString"/>.</summary>
    protected virtual bool InPlainString => false;

    /// <summary>Whether that many more bytes fit the open string's length limit (bytes never undercount characters).</summary>
    protected virtual bool FitsString(int bytes) => true;

    /// <summary>Sets every token the format does not allow next to -infinity; false when none is left.</summary>
    public bool Mask(Span<float> scores, OutputVocabulary vocabulary)
    {
        bool any = false, complete = Complete, closed = Closed;
        for (int t = 0; t < scores.Length; t++)
        {
            if (float.IsNegativeInfinity(scores[t])) continue;
            var piece = vocabulary.Piece(t);
            bool allowed = vocabulary.IsEndOfGeneration(t) ? complete
                : !closed && piece.Length > 0 && (InPlainString && vocabulary.IsPlainString(t) && FitsString(piece.Length) || Allows(piece));
            if (allowed) any = true;
            else scores[t] = float.NegativeInfinity;
        }
        return any;
    }
}
