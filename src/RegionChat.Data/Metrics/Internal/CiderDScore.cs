namespace RegionChat.Data.Metrics.Internal;

/// <summary>CIDEr-D as the COCO caption CIDEr scorer computes it (n = 1..4, sigma = 6).</summary>
/// <remarks>
/// <list type="bullet">
/// <item>Document frequency of a gram = number of items whose references (any of them) contain it; idf weight =
/// log(N) - log(max(1, df)) with N = number of items. So a one-item corpus scores 0, and the score of an item depends
/// on the whole corpus.</item>
/// <item>Each caption becomes one tf-idf vector per order; the similarity per order is
/// Σ min(cand, ref)·ref / (|cand|·|ref|) (the clipping of CIDEr-D), times exp(-δ²/(2σ²)).</item>
/// <item>δ is the difference of the two captions' lengths as the reference code measures them: it counts the
/// bigrams, not the words (length - 1 for non-empty captions). That differs from words only when one caption is
/// empty, where the similarity is 0 anyway; we keep the reference's definition.</item>
/// <item>Item score = mean over the 4 orders of the sum over references, divided by the number of references, × 10.</item>
/// </list>
/// </remarks>
internal static class CiderDScore
{
    public const double Sigma = 6.0;
    const int Orders = NGramCounts.MaxOrder;

    public static double[] Compute(IReadOnlyList<(NGramCounts Candidate, IReadOnlyList<NGramCounts> References)> items)
    {
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (_, references) in items)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var reference in references)
                foreach (var order in reference.ByOrder)
                    foreach (var gram in order.Keys)
                        if (seen.Add(gram)) documentFrequency[gram] = documentFrequency.GetValueOrDefault(gram) + 1;
        }
        double logItems = Math.Log(items.Count);

        var scores = new double[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            var candidate = TfIdf.Of(items[i].Candidate, documentFrequency, logItems);
            var perOrder = new double[Orders];
            foreach (var referenceCounts in items[i].References)
            {
                var reference = TfIdf.Of(referenceCounts, documentFrequency, logItems);
                double penalty = Math.Exp(-Math.Pow(candidate.Length - reference.Length, 2) / (2 * Sigma * Sigma));
                for (int k = 0; k < Orders; k++)
                {
                    double dot = 0;
                    foreach (var (gram, weight) in candidate.Vectors[k])
                    {
                        double r = reference.Vectors[k].GetValueOrDefault(gram);
                        dot += Math.Min(weight, r) * r;
                    }
                    if (candidate.Norms[k] != 0 && reference.Norms[k] != 0) dot /= candidate.Norms[k] * reference.Norms[k];
                    perOrder[k] += dot * penalty;
                }
            }
            scores[i] = perOrder.Sum() / Orders / items[i].References.Count * 10.0;
        }
        return scores;
    }

    /// <summary>tf-idf vectors, their norms and the length the reference code uses (bigram count).</summary>
    sealed record TfIdf(Dictionary<string, double>[] Vectors, double[] Norms, int Length)
    {
        public static TfIdf Of(NGramCounts counts, Dictionary<string, int> documentFrequency, double logItems)
        {
            var vectors = new Dictionary<string, double>[Orders];
            var norms = new double[Orders];
            for (int k = 0; k < Orders; k++)
            {
                var vector = new Dictionary<string, double>(counts.ByOrder[k].Count, StringComparer.Ordinal);
                double sumSquares = 0;
                foreach (var (gram, tf) in counts.ByOrder[k])
                {
                    double logDf = Math.Log(Math.Max(1.0, documentFrequency.GetValueOrDefault(gram)));
                    double w = tf * (logItems - logDf);
                    vector[gram] = w;
                    sumSquares += w * w;
                }
                vectors[k] = vector;
                norms[k] = Math.Sqrt(sumSquares);
            }
            int bigrams = counts.ByOrder[1].Values.Sum();
            return new TfIdf(vectors, norms, bigrams);
        }
    }
}
