using RegionChat.Data.Metrics;

namespace RegionChat.Data.Tests.Metrics;

/// <summary>Small corpora whose scores follow by hand from the scorers' definitions.</summary>
public class CaptionScorerTests
{
    static IReadOnlyList<string> T(string s) => CaptionTokenizer.SplitPretokenized(s);
    static CaptionItem Item(string id, string candidate, params string[] references) =>
        new(id, T(candidate), references.Select(T).ToArray());

    [Fact]
    public void RougeL_is_the_beta_1_2_lcs_f_measure()
    {
        // LCS("a b c d", "a c d e f") = 3: P = 3/4, R = 3/5, F = (1 + 1.44)·P·R / (R + 1.44·P).
        var s = CaptionScorer.Score([Item("x", "a b c d", "a c d e f")]);
        double p = 0.75, r = 0.6;
        Assert.Equal((1 + 1.44) * p * r / (r + 1.44 * p), s.Items[0].RougeL, 12);
    }

    [Fact]
    public void RougeL_takes_best_precision_and_best_recall_independently()
    {
        // Ref 1 gives P = 1, R = 1/3; ref 2 gives P = 1/2, R = 1/2. The scorer combines P = 1 with R = 1/2.
        var s = CaptionScorer.Score([Item("x", "a b", "a b c d e f", "a x")]);
        Assert.Equal(2.44 * 1 * 0.5 / (0.5 + 1.44 * 1), s.Items[0].RougeL, 12);
    }

    [Fact]
    public void Bleu_uses_the_closest_reference_length_and_the_shorter_one_on_a_tie()
    {
        // Candidate of 5 tokens, references of 4 and 6 tokens: tie, the 4-token one wins, so no brevity penalty.
        var s = CaptionScorer.Score([Item("x", "a b c d e", "a b c d", "a b c d e f")]);
        Assert.Equal(1.0, s.Items[0].Bleu[0], 8);
        Assert.Equal(1.0, s.Bleu[0], 8);
        // References of 2, 6 and 9 tokens: the closest (6) sets the penalty, exp(1 - 6/5); the shortest or the mean would
        // give none, the longest exp(1 - 9/5). Every candidate unigram is in the 6-token reference, so BLEU-1 is the penalty.
        var closest = CaptionScorer.Score([Item("x", "a b c d e", "a b", "a b c d e f", "p q r s t u v w x")]);
        Assert.Equal(Math.Exp(1 - 6.0 / 5), closest.Items[0].Bleu[0], 8);
    }

    [Fact]
    public void Bleu_applies_the_brevity_penalty()
    {
        // 3 matching tokens against a 6-token reference: BLEU-1 = 1 · exp(1 - 6/3).
        var s = CaptionScorer.Score([Item("x", "a b c", "a b c d e f")]);
        Assert.Equal(Math.Exp(-1), s.Items[0].Bleu[0], 8);
    }

    [Fact]
    public void Corpus_bleu_pools_counts_instead_of_averaging_items()
    {
        // Matches 2 + 0 over guesses 2 + 4: corpus BLEU-1 = 1/3, while the item mean would be about 1/2.
        var s = CaptionScorer.Score([Item("1", "a b", "a b"), Item("2", "c d e f", "w x y z")]);
        Assert.Equal(1.0 / 3, s.Bleu[0], 8);
        Assert.Equal(1.0, s.Items[0].Bleu[0], 8);
    }

    [Fact]
    public void Bleu_for_an_order_without_ngrams_uses_the_scorers_epsilons()
    {
        // One token: BLEU-2 = sqrt(1 · (0 + 1e-15) / (0 + 1e-9)) = 1e-3, not 0 or NaN.
        var s = CaptionScorer.Score([Item("x", "a", "a")]);
        Assert.Equal(1e-3, s.Items[0].Bleu[1], 9);
    }

    [Fact]
    public void CiderD_of_exact_matches_in_a_two_item_corpus()
    {
        // idf = log 2 for every gram; orders 1 and 2 have cosine 1, orders 3 and 4 have no grams:
        // (1 + 1 + 0 + 0) / 4 · 10 = 5.
        var s = CaptionScorer.Score([Item("1", "a b", "a b"), Item("2", "c d", "c d")]);
        Assert.Equal(5.0, s.Items[0].CiderD, 10);
        Assert.Equal(5.0, s.CiderD, 10);
    }

    [Fact]
    public void CiderD_clips_candidate_counts_to_the_reference()
    {
        // "a a" vs "a b": unigram weights cand {a: 2w}, ref {a: w, b: w}; clipped dot = min(2w, w)·w = w²,
        // cosine = w² / (2w · √2 w) = 1/(2√2); no bigram match; score = 1/(2√2) / 4 · 10.
        var s = CaptionScorer.Score([Item("1", "a a", "a b"), Item("2", "c", "c")]);
        Assert.Equal(1 / (2 * Math.Sqrt(2)) / 4 * 10, s.Items[0].CiderD, 10);
    }

    [Fact]
    public void CiderD_averages_over_references()
    {
        // Second reference is 6 words longer with no shared gram: it adds 0 and halves the score (÷ 2 references).
        var one = CaptionScorer.Score([Item("1", "a b", "a b"), Item("2", "c d", "c d")]);
        var two = CaptionScorer.Score([Item("1", "a b", "a b", "p q r s t u v w"), Item("2", "c d", "c d")]);
        Assert.Equal(one.Items[0].CiderD / 2, two.Items[0].CiderD, 10);
    }

    [Fact]
    public void CiderD_penalises_the_length_difference_of_captions_that_share_grams()
    {
        // "a b" against "a b a b a b" (idf w = log 2 for every gram of item 1): unigrams cand {a: w, b: w}, ref {a: 3w,
        // b: 3w}, cosine 1; bigrams cand {ab: w}, ref {ab: 3w, ba: 2w}, clipped dot w·3w, cosine 3/√13; no 3- or
        // 4-grams. Lengths are bigram counts, 1 and 5: δ = 4, penalty exp(-16 / 72).
        var s = CaptionScorer.Score([Item("1", "a b", "a b a b a b"), Item("2", "c d", "c d")]);
        Assert.Equal((1 + 3 / Math.Sqrt(13)) / 4 * 10 * Math.Exp(-16.0 / 72), s.Items[0].CiderD, 10);
    }

    [Fact]
    public void CiderD_is_zero_for_a_single_item_corpus()
    {
        // idf = log(1) - log(1) = 0 for every reference gram.
        Assert.Equal(0.0, CaptionScorer.Score([Item("x", "a b c", "a b c")]).CiderD);
    }

    [Fact]
    public void Empty_candidate_scores_zero_without_nan()
    {
        var s = CaptionScorer.Score([new CaptionItem("1", [], [T("a b")]), Item("2", "c", "c")]);
        Assert.All(s.Items[0].Bleu, b => Assert.Equal(0.0, b));
        Assert.Equal(0.0, s.Items[0].RougeL);
        Assert.Equal(0.0, s.Items[0].CiderD);
    }

    [Fact]
    public void Bad_input_is_refused_with_a_clear_message()
    {
        Assert.Contains("no caption items", Assert.Throws<ArgumentException>(() => CaptionScorer.Score([])).Message);
        Assert.Contains("\"1\" appears twice", Assert.Throws<ArgumentException>(() =>
            CaptionScorer.Score([Item("1", "a", "a"), Item("1", "b", "b")])).Message);
        Assert.Contains("no references", Assert.Throws<ArgumentException>(() =>
            CaptionScorer.Score([new CaptionItem("1", T("a"), [])])).Message);
        Assert.Contains("whitespace", Assert.Throws<ArgumentException>(() =>
            CaptionScorer.Score([new CaptionItem("1", ["a b"], [T("a")])])).Message);
        Assert.Contains("more than the 10000", Assert.Throws<ArgumentException>(() =>
            CaptionScorer.Score([new CaptionItem("1", Enumerable.Repeat("a", 10_001).ToArray(), [T("a")])])).Message);
        Assert.Contains("empty token", Assert.Throws<ArgumentException>(() =>
            CaptionScorer.Score([new CaptionItem("1", ["a", ""], [T("a")])])).Message);
    }
}
