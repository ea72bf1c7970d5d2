using RegionChat.Data.Metrics.Internal;

namespace RegionChat.Data.Metrics;

/// <summary>
/// BLEU-1..4, ROUGE-L and CIDEr-D exactly as the COCO caption scorers (pycocoevalcap: Bleu(4), Rouge, CiderD with
/// n = 4, sigma = 6) compute them on tokenised captions. The Alpha-CLIP paper reports its region captions with these.
/// </summary>
/// <remarks>
/// <para>METEOR is not implemented: the reference runs METEOR 1.5 (Java) with WordNet synonyms and paraphrase tables,
/// and a reimplementation without them would give different numbers under the same name. SPICE is not implemented
/// either.</para>
/// <para>Inputs are token lists; use <see cref="CaptionTokenizer"/> to get them from text the way the reference
/// pipeline does. CIDEr-D's idf comes from the references of the items scored together, so per-item CIDEr-D values
/// depend on the whole corpus passed in.</para>
/// </remarks>
public static class CaptionScorer
{
    /// <summary>Longest caption accepted, in tokens: ROUGE-L's LCS costs candidate × reference steps.</summary>
    public const int MaxTokens = 10_000;

    /// <summary>Scores a corpus.</summary>
    /// <exception cref="ArgumentException">No items, a duplicate or empty id, an item without references, a caption
    /// longer than <see cref="MaxTokens"/>, or a token that is empty or contains whitespace.</exception>
    public static CaptionScores Score(IReadOnlyList<CaptionItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        Validate(items);

        var counted = new (NGramCounts Candidate, IReadOnlyList<NGramCounts> References)[items.Count];
        for (int i = 0; i < items.Count; i++)
            counted[i] = (NGramCounts.Of(items[i].Candidate), items[i].References.Select(NGramCounts.Of).ToArray());

        var bleuStats = counted.Select(c => BleuScore.Collect(c.Candidate, c.References)).ToArray();
        var cider = CiderDScore.Compute(counted);
        var perItem = new CaptionItemScores[items.Count];
        for (int i = 0; i < items.Count; i++)
            perItem[i] = new CaptionItemScores(
                items[i].Id,
                BleuScore.ForItem(bleuStats[i]),
                RougeLScore.Compute(items[i].Candidate, items[i].References),
                cider[i]);

        return new CaptionScores(
            BleuScore.ForCorpus(bleuStats),
            perItem.Average(s => s.RougeL),
            cider.Average(),
            perItem);
    }

    static void Validate(IReadOnlyList<CaptionItem> items)
    {
        if (items.Count == 0) throw new ArgumentException("no caption items to score", nameof(items));
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            if (string.IsNullOrEmpty(item.Id)) throw new ArgumentException("a caption item has an empty id", nameof(items));
            if (!ids.Add(item.Id)) throw new ArgumentException($"caption item id \"{item.Id}\" appears twice", nameof(items));
            if (item.References is not { Count: > 0 })
                throw new ArgumentException($"caption item \"{item.Id}\" has no references", nameof(items));
            CheckTokens(item.Candidate, item.Id, "candidate");
            foreach (var reference in item.References) CheckTokens(reference, item.Id, "reference");
        }
    }

    static void CheckTokens(IReadOnlyList<string>? tokens, string id, string what)
    {
        if (tokens == null) throw new ArgumentException($"caption item \"{id}\": {what} tokens are null");
        if (tokens.Count > MaxTokens)
            throw new ArgumentException($"caption item \"{id}\": {what} has {tokens.Count} tokens, more than the {MaxTokens} accepted");
        foreach (var t in tokens)
        {
            if (string.IsNullOrEmpty(t)) throw new ArgumentException($"caption item \"{id}\": {what} has an empty token");
            foreach (char ch in t)
                if (char.IsWhiteSpace(ch))
                    throw new ArgumentException($"caption item \"{id}\": {what} token \"{t}\" contains whitespace");
        }
    }
}
