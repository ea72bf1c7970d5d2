namespace RegionChat.Data.Metrics;

/// <summary>Corpus scores of <see cref="CaptionScorer"/>, as fractions (CIDEr-D 1.092 is the "109.2" of papers).</summary>
/// <param name="Bleu">Corpus BLEU-1..4 (index 0 = BLEU-1).</param>
/// <param name="RougeL">Mean of the per-item ROUGE-L.</param>
/// <param name="CiderD">Mean of the per-item CIDEr-D.</param>
/// <param name="Items">Per-item scores in input order.</param>
public sealed record CaptionScores(IReadOnlyList<double> Bleu, double RougeL, double CiderD, IReadOnlyList<CaptionItemScores> Items);

/// <summary>Scores of one item.</summary>
/// <param name="Bleu">Sentence BLEU-1..4 as the reference scorer reports them per image.</param>
public sealed record CaptionItemScores(string Id, IReadOnlyList<double> Bleu, double RougeL, double CiderD);
