using System.Text;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class Utf8StreamingTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public void AMultiByteCharacterComesOutOnlyWhenItsLastByteArrives()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("", d.Push([0xE2]));
        Assert.Equal("", d.Push([0x82]));
        Assert.Equal("€", d.Push([0xAC]));
        Assert.Equal("a", d.Push("a"u8));
        Assert.Equal("", d.Push([0xF0, 0x9F]));
        Assert.Equal("🙂b", d.Push([0x99, 0x82, (byte)'b']));
        Assert.Equal("", d.Flush());
    }

    [Fact]
    public void BytesThatCanNeverFormACharacterBecomeReplacementCharacters()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("", d.Push([0xC3]));
        Assert.Equal("\uFFFDA", d.Push("A"u8));          // lead byte followed by ASCII
        Assert.Equal("\uFFFD", d.Push([0x82]));          // stray continuation byte
        Assert.Equal("", d.Push([0xE2, 0x82]));
        Assert.Equal("\uFFFD", d.Flush());               // stream ended mid-character
    }

    [Fact]
    public void RealByteFallbackTokenPiecesStreamWithoutBrokenCharacters()
    {
        using var engine = models.Load();
        const string text = "naïve café — 東京 🙂 ok";
        int[] ids = engine.Tokenize(text);
        var pieces = ids.Select(engine.TokenBytes).ToArray();
        // The tiny vocabulary has none of these characters: they arrive as byte tokens, one byte each.
        Assert.Contains(pieces, p => p.Length == 1 && p[0] >= 0x80);

        var d = new Utf8StreamDecoder();
        var output = new List<string>();
        foreach (var p in pieces) output.Add(d.Push(p));
        output.Add(d.Flush());
        foreach (string s in output) AssertWholeCharacters(s);
        Assert.Contains(output, s => s.Length == 0);     // some tokens ended mid-character and were held
        Assert.Equal(" " + text, string.Concat(output)); // SentencePiece's leading ▁ reads as a space
    }

    [Fact]
    public async Task GreedyOutputOfMultiByteCharactersIsStreamedWhole()
    {
        using var dir = new TempDir();
        var v = TinyModels.Vocab;
        var chain = new List<int> { v.IdOf("▁cat") };
        chain.AddRange(Encoding.UTF8.GetBytes("é€東").Select(v.ByteId));  // C3 A9 E2 82 AC E6 9D B1: 8 distinct bytes
        chain.Add(v.IdOf("▁dog"));
        chain.Add(v.EosId);
        using var engine = ScriptedModel.Load(dir, chain);
        using var session = engine.CreateSession(keepHistory: false);

        var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("a big cat")], SamplingParams.Greedy(32)));
        Assert.Equal(chain.Skip(1).SkipLast(1), run.Final.OutputTokens);
        Assert.Equal("é€東 dog", run.Text);
        Assert.Equal(FinishReason.Stop, run.Final.Reason);      // EOS
        Assert.Equal(chain.Count - 2, run.Final.Usage.CompletionTokens);
        Assert.Equal(["é", "€", "東", " dog"], run.Pieces);
        foreach (string p in run.Pieces) AssertWholeCharacters(p);
    }

    static void AssertWholeCharacters(string s)
    {
        Assert.DoesNotContain('\uFFFD', s);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i])) Assert.True(i + 1 < s.Length && char.IsLowSurrogate(s[++i]), "split surrogate pair");
            else Assert.False(char.IsLowSurrogate(s[i]), "lone low surrogate");
        }
    }
}
