using System.Text;
using LLama;
using LLama.Common;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Vocabulary;

public class LlamaVocabularyTests
{
    [Fact]
    public void LayoutIsSpecialsThenBytesThenPieces()
    {
        var v = LlamaVocabulary.FromWords(["cat", "car", "cat"]);
        Assert.Equal(new[] { "<unk>", "<s>", "</s>" }, v.Tokens.Take(3));
        Assert.Equal(new[] { LlamaTokenType.Unknown, LlamaTokenType.Control, LlamaTokenType.Control }, v.Types.Take(3));
        Assert.Equal((0, 1, 2), (v.UnknownId, v.BosId, v.EosId));
        for (int b = 0; b < 256; b++)
        {
            Assert.Equal($"<0x{b:X2}>", v.Tokens[3 + b]);
            Assert.Equal(LlamaTokenType.Byte, v.Types[3 + b]);
        }
        Assert.Equal(new[] { "▁", "▁c", "▁ca", "▁cat", "▁car" }, v.Tokens.Skip(259));
        Assert.All(v.Types.Skip(259), t => Assert.Equal(LlamaTokenType.Normal, t));
        var scores = v.Scores.Skip(259).ToArray();
        Assert.True(scores[0] < scores[1] && scores[1] < scores[2] && scores[2] < scores[3], "longer pieces score higher");
        Assert.Equal(scores[3], scores[4]);
        Assert.Equal(264, v.Count);
        Assert.Equal(10, v.ByteId(7));
        Assert.Equal(new[] { v.IdOf("▁car"), v.IdOf("▁cat") }, v.WordIds("car  cat"));
        Assert.Throws<KeyNotFoundException>(() => v.WordIds("ca cab"));
    }

    [Fact]
    public void EveryPrefixOfEveryWordIsAPiece()
    {
        var v = LlamaVocabulary.FromText("the naïve café serves crème brûlée, 😀 twice.\nthe end");
        foreach (string word in new[] { "the", "naïve", "café", "serves", "crème", "brûlée,", "😀", "twice.", "end" })
        {
            var runes = word.EnumerateRunes().Select(r => r.ToString()).ToArray();
            for (int n = 0; n <= runes.Length; n++)
                Assert.True(v.TryGetId("▁" + string.Concat(runes.Take(n)), out _), $"prefix {n} of {word}");
        }
        Assert.False(v.TryGetId("▁😀"[..2], out _)); // never half a surrogate pair
        Assert.Equal(v.Tokens.Count, v.Tokens.Distinct().Count());
    }

    [Fact]
    public void PadsWithFillersToTheRequestedSize()
    {
        var v = LlamaVocabulary.BuiltInEnglish(32000);
        Assert.Equal(32000, v.Count);
        Assert.Equal(v.Count, v.Tokens.Distinct().Count());
        int natural = LlamaVocabulary.BuiltInEnglish().Count;
        Assert.Equal(LlamaVocabulary.BuiltInEnglish().Tokens, v.Tokens.Take(natural));
        Assert.All(v.Scores.Skip(natural), s => Assert.True(s < 0, "fillers score below every word piece"));
        Assert.Throws<ArgumentOutOfRangeException>(() => LlamaVocabulary.BuiltInEnglish(natural - 1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("tab\there")]
    [InlineData("▁cat")]
    public void RejectsBadWords(string word) =>
        Assert.Throws<ArgumentException>(() => LlamaVocabulary.FromWords([word]));

    [Fact]
    public void RoundTripsThroughGguf()
    {
        using var dir = new TempDir();
        var v = LlamaVocabulary.FromText("a red bus near the old café", 400);
        var w = new GgufWriter();
        v.WriteTo(w);
        w.Write(dir.File("v.gguf"));
        using var f = GgufFile.Open(dir.File("v.gguf"));
        Assert.Equal("llama", f.GetString("tokenizer.ggml.model"));
        Assert.True(f.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.False(f.GetBool("tokenizer.ggml.add_eos_token"));
        var back = LlamaVocabulary.FromGguf(f);
        Assert.Equal(v.Tokens, back.Tokens);
        Assert.Equal(v.Scores, back.Scores);
        Assert.Equal(v.Types, back.Types);
        Assert.Equal((v.UnknownId, v.BosId, v.EosId, v.Model), (back.UnknownId, back.BosId, back.EosId, back.Model));
    }

    [Fact]
    public void LlamaCppTokenizesMultiByteWordsIntoWholePieces()
    {
        using var dir = new TempDir();
        const string text = "the café serves crème brûlée 😀";
        var v = LlamaVocabulary.FromText(text + " and tea");
        string path = dir.File("m.gguf");
        LlamaGgufSynth.Write(path, new LlamaShape(32, 1, 2, 2, 64, v.Count, 64), v, GgmlType.F32, 1);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true });
        var ids = weights.Tokenize(text, false, false, Encoding.UTF8);
        Assert.Equal(v.WordIds(text), ids.Select(t => (int)t));
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, weights);
        decoder.AddRange(ids);
        Assert.Equal(" " + text, decoder.Read());
        // A character outside the vocabulary becomes its UTF-8 byte tokens, and still decodes back.
        var withByte = weights.Tokenize("tea ß", false, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        Assert.Equal(new[] { v.IdOf("▁tea"), v.IdOf("▁"), v.ByteId(0xC3), v.ByteId(0x9F) }, withByte);
    }
}
