namespace RegionChat.Data.Metrics.Internal;

/// <summary>BLEU-1..4 as the COCO caption BLEU scorer computes it (option "closest").</summary>
/// <remarks>
/// Per item: clipped n-gram matches against the per-gram maximum count over the references, and the reference length
/// closest to the candidate's (ties go to the shorter reference). The corpus score sums matches, guesses, candidate
/// and chosen reference lengths over items and applies one brevity penalty; the per-item score applies the same
/// formula to one item. The reference adds 1e-15 to matches and 1e-9 to guesses and lengths (so an order with no
/// guesses gives 1e-6 instead of 0/0) and we do too: the golden per-item values depend on it.
/// </remarks>
internal static class BleuScore
{
    const double Small = 1e-9;
    const double Tiny = 1e-15;
    const int Orders = NGramCounts.MaxOrder;

    /// <summary>What BLEU needs of one item.</summary>
    public sealed record Stats(int CandidateLength, int ReferenceLength, int[] Guess, int[] Correct);

    public static Stats Collect(NGramCounts candidate, IReadOnlyList<NGramCounts> references)
    {
        var guess = new int[Orders];
        var correct = new int[Orders];
        for (int k = 0; k < Orders; k++)
        {
            guess[k] = Math.Max(0, candidate.Length - k);
            var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var reference in references)
                foreach (var (gram, count) in reference.ByOrder[k])
                    maxRef[gram] = Math.Max(maxRef.GetValueOrDefault(gram), count);
            foreach (var (gram, count) in candidate.ByOrder[k])
                correct[k] += Math.Min(maxRef.GetValueOrDefault(gram), count);
        }
        return new Stats(candidate.Length, ClosestLength(candidate.Length, references), guess, correct);
    }

    static int ClosestLength(int candidateLength, IReadOnlyList<NGramCounts> references)
    {
        int best = references[0].Length;
        foreach (var r in references)
        {
            int d = Math.Abs(r.Length - candidateLength), bestD = Math.Abs(best - candidateLength);
            if (d < bestD || (d == bestD && r.Length < best)) best = r.Length;
        }
        return best;
    }

    public static double[] ForItem(Stats s) =>
        Combine(s.CandidateLength, s.ReferenceLength, Array.ConvertAll(s.Guess, g => (long)g), Array.ConvertAll(s.Correct, c => (long)c));

    public static double[] ForCorpus(IEnumerable<Stats> items)
    {
        long candidateLength = 0, referenceLength = 0;
        var guess = new long[Orders];
        var correct = new long[Orders];
        foreach (var s in items)
        {
            candidateLength += s.CandidateLength;
            referenceLength += s.ReferenceLength;
            for (int k = 0; k < Orders; k++)
            {
                guess[k] += s.Guess[k];
                correct[k] += s.Correct[k];
            }
        }
        return Combine(candidateLength, referenceLength, guess, correct);
    }

    static double[] Combine(long candidateLength, long referenceLength, long[] guess, long[] correct)
    {
        var bleu = new double[Orders];
        double product = 1.0;
        for (int k = 0; k < Orders; k++)
        {
            product *= (correct[k] + Tiny) / (guess[k] + Small);
            bleu[k] = Math.Pow(product, 1.0 / (k + 1));
        }
        double ratio = (candidateLength + Tiny) / (referenceLength + Small);
        if (ratio < 1)
        {
            double brevity = Math.Exp(1 - 1 / ratio);
            for (int k = 0; k < Orders; k++) bleu[k] *= brevity;
        }
        return bleu;
    }
}
