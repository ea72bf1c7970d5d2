using System.Text.Json;
using RegionChat.TestSupport;
using RegionChat.Data.Metrics;

namespace RegionChat.Data.Tests.Metrics;

/// <summary>Scores of ../shared/goldens/caption-metrics/dev.json, computed by the reference pycocoevalcap scorers.</summary>
public class CaptionScorerGoldenTests
{
    const double Tolerance = 1e-6;

    [SkippableFact]
    public void Matches_reference_scorers_on_the_dev_golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedFiles.Require("goldens/caption-metrics/dev.json")));
        var golden = doc.RootElement;
        var goldenItems = golden.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(40, goldenItems.Length);

        var items = goldenItems.Select(i => new CaptionItem(
            i.GetProperty("id").GetString()!,
            CaptionTokenizer.SplitPretokenized(i.GetProperty("candidate").GetString()!),
            i.GetProperty("references").EnumerateArray().Select(r => CaptionTokenizer.SplitPretokenized(r.GetString()!)).ToArray()))
            .ToArray();

        var scores = CaptionScorer.Score(items);

        var corpus = golden.GetProperty("corpus");
        var bleu = corpus.GetProperty("bleu").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int k = 0; k < 4; k++) Assert.Equal(bleu[k], scores.Bleu[k], Tolerance);
        Assert.Equal(corpus.GetProperty("rouge_l").GetDouble(), scores.RougeL, Tolerance);
        Assert.Equal(corpus.GetProperty("cider").GetDouble(), scores.CiderD, Tolerance);

        Assert.Equal(goldenItems.Length, scores.Items.Count);
        for (int i = 0; i < goldenItems.Length; i++)
        {
            var expected = goldenItems[i];
            var actual = scores.Items[i];
            Assert.Equal(expected.GetProperty("id").GetString(), actual.Id);
            Assert.True(Math.Abs(expected.GetProperty("cider").GetDouble() - actual.CiderD) <= Tolerance, $"item {actual.Id} CIDEr-D {actual.CiderD}");
            Assert.True(Math.Abs(expected.GetProperty("rouge_l").GetDouble() - actual.RougeL) <= Tolerance, $"item {actual.Id} ROUGE-L {actual.RougeL}");
            var itemBleu = expected.GetProperty("bleu").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int k = 0; k < 4; k++)
                Assert.True(Math.Abs(itemBleu[k] - actual.Bleu[k]) <= Tolerance, $"item {actual.Id} BLEU-{k + 1} {actual.Bleu[k]} vs {itemBleu[k]}");
        }
    }

    [SkippableFact]
    public void Ptb_tokenizer_leaves_the_golden_clean_captions_unchanged()
    {
        // The golden's captions are lower-case words without punctuation: PTB tokenisation must be the identity on them.
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedFiles.Require("goldens/caption-metrics/dev.json")));
        foreach (var item in doc.RootElement.GetProperty("items").EnumerateArray())
            foreach (var text in item.GetProperty("references").EnumerateArray().Select(r => r.GetString()!).Append(item.GetProperty("candidate").GetString()!))
                Assert.Equal(text.Split(' '), CaptionTokenizer.Tokenize(text));
    }
}
