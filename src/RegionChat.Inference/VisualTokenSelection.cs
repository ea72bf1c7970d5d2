namespace RegionChat.Inference;

/// <summary>
/// The visual-token budget (issue 17): which K of an image's N visual tokens go to the LLM, training-free and
/// region-aware. Candidates first are the patches that overlap the region (alpha &gt; 0 anywhere in the patch), best
/// first by the vision tower's CLS attention at the feature layer (VisionZip's "dominant tokens"); then the best
/// patches outside the region by the same score. A CLS token (select_feature "cls_patch") is always kept. The kept
/// tokens stay in their original order. Budget 0, or one of at least N, keeps every token (no selection at all).
/// </summary>
public static class VisualTokenSelection
{
    /// <summary>The largest budget a setting or request may give (any budget of at least N keeps all N tokens).</summary>
    public const int MaxBudget = 1 << 20;

    /// <summary>What is wrong with <paramref name="budget"/> for a model with a CLS token or not, or null: it must be 0
    /// (every token) or keep at least one patch token (1 to <see cref="MaxBudget"/>; 2 or more with a CLS token).</summary>
    public static string? Check(long budget, bool includesCls)
    {
        int least = includesCls ? 2 : 1;
        if (budget == 0 || (budget >= least && budget <= MaxBudget)) return null;
        return $"must be 0 (every visual token) or in [{least}, {MaxBudget}]" +
               (includesCls ? " (the CLS token and at least one patch)" : "") + $", got {budget}";
    }

    /// <summary>The budget that applies: 0 (keep all) for 0 or any budget of at least <paramref name="tokens"/>.</summary>
    public static int Effective(long budget, int tokens) => budget <= 0 || budget >= tokens ? 0 : (int)budget;

    /// <summary>Which patches of a <paramref name="resolution"/>² alpha map (row-major) overlap the region: any alpha
    /// value &gt; 0 (Alpha-CLIP's foreground side) inside the patch. Patches are numbered row by row.</summary>
    public static bool[] RegionPatches(ReadOnlySpan<float> alpha, int resolution, int patchSize)
    {
        int grid = resolution / patchSize;
        var inside = new bool[grid * grid];
        for (int y = 0; y < grid * patchSize; y++)
        {
            var row = alpha.Slice(y * resolution, grid * patchSize);
            int py = y / patchSize;
            for (int x = 0; x < row.Length; x++)
                if (row[x] > 0) inside[py * grid + x / patchSize] = true;
        }
        return inside;
    }

    /// <summary>The <paramref name="keep"/> patch indices kept, ascending: region patches by score (best first, ties by
    /// position), then the others by score. All of them when <paramref name="keep"/> is at least the patch count.</summary>
    public static int[] SelectPatches(ReadOnlySpan<float> scores, ReadOnlySpan<bool> inRegion, int keep)
    {
        if (scores.Length != inRegion.Length)
            throw new ArgumentException($"{scores.Length} scores for {inRegion.Length} patches", nameof(scores));
        int n = scores.Length;
        if (keep >= n) return Enumerable.Range(0, n).ToArray();
        var s = scores.ToArray();
        var r = inRegion.ToArray();
        return Enumerable.Range(0, n)
            .OrderBy(i => r[i] ? 0 : 1).ThenByDescending(i => s[i]).ThenBy(i => i)
            .Take(Math.Max(0, keep)).Order().ToArray();
    }

    /// <summary>The visual-token rows kept for a budget (indices into the N rows, ascending): with a CLS token, row 0 and
    /// the best <c>budget − 1</c> patches (rows 1…); without, the best <c>budget</c> patches. Null when the budget keeps
    /// every row.</summary>
    public static int[]? KeptRows(int budget, ReadOnlySpan<float> patchScores, ReadOnlySpan<bool> inRegion, bool includesCls)
    {
        int rows = patchScores.Length + (includesCls ? 1 : 0);
        if (Effective(budget, rows) == 0) return null;
        var patches = SelectPatches(patchScores, inRegion, includesCls ? budget - 1 : budget);
        return includesCls ? [0, .. patches.Select(p => p + 1)] : patches;
    }
}
