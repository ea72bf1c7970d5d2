namespace RegionChat.Data.Metrics.Internal;

/// <summary>ROUGE-L as the COCO caption Rouge scorer computes it.</summary>
/// <remarks>
/// LCS-based precision (over the candidate) and recall (over the reference) against every reference; the best
/// precision and the best recall are taken independently (possibly from different references) and combined into an
/// F-measure with beta = 1.2. The reference splits a caption on single spaces, so an empty caption is one empty
/// token there: we reproduce that (an empty candidate against an empty reference scores 1).
/// </remarks>
internal static class RougeLScore
{
    const double Beta = 1.2;
    static readonly string[] EmptyCaption = [""];

    public static double Compute(IReadOnlyList<string> candidate, IReadOnlyList<IReadOnlyList<string>> references)
    {
        var c = candidate.Count == 0 ? EmptyCaption : candidate;
        double bestPrecision = 0, bestRecall = 0;
        foreach (var reference in references)
        {
            var r = reference.Count == 0 ? EmptyCaption : reference;
            int lcs = LongestCommonSubsequence(r, c);
            bestPrecision = Math.Max(bestPrecision, lcs / (double)c.Count);
            bestRecall = Math.Max(bestRecall, lcs / (double)r.Count);
        }
        if (bestPrecision == 0 || bestRecall == 0) return 0.0;
        double b2 = Beta * Beta;
        return (1 + b2) * bestPrecision * bestRecall / (bestRecall + b2 * bestPrecision);
    }

    /// <summary>Length of the longest common subsequence, two DP rows.</summary>
    static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                current[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal)
                    ? previous[j - 1] + 1
                    : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}
