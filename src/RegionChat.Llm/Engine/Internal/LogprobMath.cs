namespace RegionChat.Llm.Engine.Internal;

/// <summary>Log-softmax of one logits row, for a token and the row's best few.</summary>
internal static class LogprobMath
{
    /// <summary>log Σ exp(logits), computed around the maximum so it cannot overflow.</summary>
    public static float LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        return max + (float)Math.Log(sum);
    }

    /// <summary>The ids of the <paramref name="count"/> highest logits, best first (lower id first on ties).</summary>
    public static int[] Best(ReadOnlySpan<float> logits, int count)
    {
        count = Math.Min(count, logits.Length);
        var best = new int[count];
        if (count == 0) return best;
        int filled = 0;
        for (int id = 0; id < logits.Length; id++)
        {
            float l = logits[id];
            if (filled == count && !(l > logits[best[count - 1]])) continue;
            int at = filled < count ? filled++ : count - 1;
            while (at > 0 && l > logits[best[at - 1]]) { best[at] = best[at - 1]; at--; }
            best[at] = id;
        }
        return best;
    }
}
