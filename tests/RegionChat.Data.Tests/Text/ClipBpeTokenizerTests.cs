using System.Security.Cryptography;
using System.Text.Json;
using RegionChat.Data.Text;
using RegionChat.Data.Text.Internal;
using RegionChat.TestSupport;

namespace RegionChat.Data.Tests.Text;

/// <summary>The CLIP BPE tokenizer against the reference's ids (../shared/goldens/alphaclip/clip-tiny) and Python's string rules.</summary>
public class ClipBpeTokenizerTests
{
    const string Vocabulary = "reference/bpe_simple_vocab_16e6.txt.gz";
    const string Golden = "goldens/alphaclip/clip-tiny/";

    static ClipBpeTokenizer Reference() => ClipBpeTokenizer.FromFile(SharedFiles.Require(Vocabulary));

    [SkippableFact]
    public void Matches_the_reference_on_every_hard_case()
    {
        var tokenizer = Reference();
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedFiles.Require(Golden + "tokenizer-cases.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToArray();
        Assert.Equal(20, cases.Length);
        foreach (var c in cases)
        {
            string text = c.GetProperty("text").GetString()!;
            var ids = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var ids77 = c.GetProperty("ids_77").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.True(ids[1..^1].SequenceEqual(tokenizer.Encode(text)), $"encode '{text}': [{string.Join(",", tokenizer.Encode(text))}]");
            var tokens = tokenizer.Tokenize(text);
            Assert.True(ids77.SequenceEqual(tokens.Ids), $"tokenize '{text}': [{string.Join(",", tokens.Ids)}]");
            Assert.Equal(Array.IndexOf(ids77, ids77.Max()), tokens.EndPosition);
        }
    }

    [SkippableFact]
    public void Matches_the_reference_ids_of_the_label_prompts()
    {
        var tokenizer = Reference();
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedFiles.Require(Golden + "labels.json")));
        var prompts = doc.RootElement.GetProperty("prompts").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var expected = doc.RootElement.GetProperty("token_ids").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        Assert.Equal(13, prompts.Length);
        for (int i = 0; i < prompts.Length; i++)
            Assert.True(expected[i].SequenceEqual(tokenizer.Tokenize(prompts[i]).Ids), $"prompt {i} '{prompts[i]}'");
    }

    [SkippableFact]
    public void Ships_the_reference_vocabulary()
    {
        string path = SharedFiles.Require(Vocabulary);
        using var embedded = typeof(ClipBpeTokenizer).Assembly.GetManifestResourceStream(ClipBpeTokenizer.EmbeddedVocabulary)!;
        Assert.Equal(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))), Convert.ToHexString(SHA256.HashData(embedded)));
        Assert.Equal(49408, ClipBpeTokenizer.Default.VocabularySize);
        Assert.Equal([49406, 320, 1125, 539, 320, 2368, 269, 49407], ClipBpeTokenizer.Default.Tokenize("a photo of a cat.").Ids);
    }

    [Fact]
    public void Truncates_to_the_context_ending_with_the_end_marker_and_decodes()
    {
        var tokenizer = ClipBpeTokenizer.Default;
        var tokens = tokenizer.Tokenize(string.Join(' ', Enumerable.Repeat("cat", 200)));
        Assert.Equal(77, tokens.Ids.Length);
        Assert.Equal(ClipBpeTokenizer.EndOfTextId, tokens.Ids[^1]);
        Assert.Equal(76, tokens.EndPosition);
        Assert.Equal("a photo of a café . ", tokenizer.Decode(tokenizer.Encode("A photo of a Café.")));
    }

    [Theory]
    [InlineData("&amp;amp;", "&amp;")]
    [InlineData("&#128;x", "\u20ACx")]
    [InlineData("&notit;", "\u00ACit;")]
    [InlineData("&#x110000;", "\uFFFD")]
    [InlineData("&#0;", "\uFFFD")]
    [InlineData("&#1;a", "a")]
    [InlineData("&amp", "&")]
    [InlineData("&copy2024", "\u00A92024")]
    [InlineData("&#65&#x42;", "AB")]
    [InlineData("&nonexistent;", "&nonexistent;")]
    public void Html_unescape_is_pythons(string text, string expected) => Assert.Equal(expected, PythonHtml.Unescape(text));

    [Theory]
    [InlineData("\u03A3\u0391\u03A3 \u039F\u0394\u039F\u03A3.", "\u03C3\u03B1\u03C2 \u03BF\u03B4\u03BF\u03C2.")]
    [InlineData("\u0130stanbul", "i\u0307stanbul")]
    [InlineData("\u03A3", "\u03C3")]
    [InlineData("A\u03A3'B", "a\u03C3'b")]
    public void Lower_is_pythons(string text, string expected) => Assert.Equal(expected, PythonText.Lower(text));
}
