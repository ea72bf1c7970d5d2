using RegionChat.Llm.Tokenization;
using RegionChat.Llm.Vocabulary;

namespace RegionChat.Llm.Tests.Tokenization;

/// <summary>The SentencePiece merge rules on small hand-made vocabularies whose answers follow from the rules.</summary>
public class LlamaTokenizerRulesTests
{
    // 0 <unk>, 1 <s>, 2 </s>, then pieces, then the bytes 0xC3 and 0xA9 (é).
    static LlamaTokenizer Make(params (string Text, float Score)[] pieces)
    {
        var texts = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<LlamaTokenType> { LlamaTokenType.Unknown, LlamaTokenType.Control, LlamaTokenType.Control };
        foreach (var (t, s) in pieces) { texts.Add(t); scores.Add(s); types.Add(LlamaTokenType.Normal); }
        foreach (var b in new[] { "<0xC3>", "<0xA9>", "<0x21>" }) { texts.Add(b); scores.Add(0); types.Add(LlamaTokenType.Byte); }
        return new LlamaTokenizer(texts, scores, types);
    }

    static string[] Pieces(LlamaTokenizer t, string text, bool bos = false) => t.Encode(text, bos).Select(t.TokenText).ToArray();

    [Fact]
    public void WordsGrowThroughTheirIntermediatePieces()
    {
        var t = Make(("▁", -1), ("c", -2), ("a", -3), ("t", -4), ("▁c", -5), ("▁ca", -6), ("▁cat", -7));
        Assert.Equal(["▁cat"], Pieces(t, "cat"));
        Assert.Equal(["<s>", "▁cat", "▁cat"], Pieces(t, "cat cat", bos: true));
        // "at" is no token and "▁a" neither: the second word stays in characters after its "▁".
        Assert.Equal(["▁cat", "▁", "a", "t"], Pieces(t, "cat at"));
    }

    [Fact]
    public void BestScoreMergesFirstAndTiesGoLeft()
    {
        var leftWins = Make(("▁", 0), ("a", 0), ("b", 0), ("c", 0), ("ab", -1), ("bc", -1));
        Assert.Equal(["▁", "ab", "c"], Pieces(leftWins, "abc"));
        var rightWins = Make(("▁", 0), ("a", 0), ("b", 0), ("c", 0), ("ab", -2), ("bc", -1));
        Assert.Equal(["▁", "a", "bc"], Pieces(rightWins, "abc"));
    }

    [Fact]
    public void UnknownCharactersFallBackToUtf8ByteTokens()
    {
        var t = Make(("▁", 0), ("c", 0), ("a", 0), ("f", 0));
        Assert.Equal(["▁", "c", "a", "f", "<0xC3>", "<0xA9>"], Pieces(t, "café"));
        Assert.Equal("café", t.Decode(t.Encode("café", addBos: false)));
        var ex = Assert.Throws<ArgumentException>(() => t.Encode("z"));
        Assert.Contains("<0x7A>", ex.Message);
    }

    [Fact]
    public void SpacesBecomeEscapesAndDecodingDropsOnlyTheFirstPrefix()
    {
        var t = Make(("▁", 0), ("a", 0), ("▁a", 1), ("▁▁", 1));
        // "▁▁▁a▁a": the leftmost of the equal-score pairs merges first, leaving "▁" + "a" to merge next.
        Assert.Equal(["▁▁", "▁a", "▁a"], Pieces(t, "  a a"));
        Assert.Equal("  a a", t.Decode(t.Encode("  a a", addBos: false)));
        // The BOS (a control token) prints nothing but still uses up the first piece's space removal, as llama.cpp.
        Assert.Equal(" a", t.Decode(t.Encode("a", addBos: true)));
        Assert.Equal("<s> a", t.Decode(t.Encode("a", addBos: true), unparseSpecial: true));
        Assert.Equal(" a", t.Decode(t.Encode("a", addBos: true), removeSpecial: true));
        Assert.Equal([1], t.Encode("", addBos: true));
        Assert.Empty(t.Encode("", addBos: false));
    }

    [Fact]
    public void UserDefinedTokensAreMatchedLiterallyAndControlOnesOnlyWhenParsingSpecials()
    {
        var texts = new[] { "<unk>", "<s>", "</s>", "▁", "x", "<img>" };
        var types = new[] { LlamaTokenType.Unknown, LlamaTokenType.Control, LlamaTokenType.Control,
            LlamaTokenType.Normal, LlamaTokenType.Normal, LlamaTokenType.UserDefined };
        var t = new LlamaTokenizer(texts, null, types);
        // After a special piece the next text gets a space prefix again.
        Assert.Equal([4, 5, 3, 4], t.Encode("x<img>x", addBos: false).Skip(1).ToArray());
        Assert.Equal([3, 4, 5, 3, 4], t.Encode("x<img>x", addBos: false));
        Assert.Equal([3, 4, 2, 3, 4], t.Encode("x</s>x", addBos: false, parseSpecial: true));
    }

    [Fact]
    public void InconsistentVocabulariesAreRefused()
    {
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => new LlamaTokenizer(["a", "b", "a"])).Message);
        Assert.Throws<ArgumentException>(() => new LlamaTokenizer(["a", "b"], scores: [1f]));
        Assert.Throws<ArgumentException>(() => new LlamaTokenizer([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LlamaTokenizer(["a", "b", "c"]).Decode([7]));
    }
}
