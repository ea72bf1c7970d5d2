namespace RegionChat.Data.Metrics.Internal;

/// <summary>Counts of the 1..N-grams of one token list, one table per order.</summary>
/// <remarks>
/// An n-gram's key is its tokens joined by single spaces. Tokens never contain whitespace (the scorer checks), so a
/// key is unambiguous, and grams of different orders never share a key.
/// </remarks>
internal sealed class NGramCounts
{
    public const int MaxOrder = 4;

    NGramCounts(int length, Dictionary<string, int>[] byOrder)
    {
        Length = length;
        ByOrder = byOrder;
    }

    /// <summary>Number of tokens.</summary>
    public int Length { get; }

    /// <summary>ByOrder[k] maps each (k+1)-gram to its count.</summary>
    public Dictionary<string, int>[] ByOrder { get; }

    public static NGramCounts Of(IReadOnlyList<string> tokens)
    {
        var byOrder = new Dictionary<string, int>[MaxOrder];
        for (int k = 0; k < MaxOrder; k++)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            int n = k + 1;
            for (int i = 0; i + n <= tokens.Count; i++)
            {
                string key = n == 1 ? tokens[i] : string.Join(' ', tokens.Skip(i).Take(n));
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            byOrder[k] = counts;
        }
        return new NGramCounts(tokens.Count, byOrder);
    }
}
