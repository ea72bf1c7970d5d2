using System.Text;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class StopStringTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public void TextThatMayStartAStopStringIsHeldBack()
    {
        var f = new StopStringFilter(["END", "xyz"]);
        Assert.Equal("abc ", f.Push("abc E"));        // "E" may start "END"
        Assert.Equal("E", f.Push("x"));               // "Ex" cannot start a stop string, "x" may start "xyz"
        Assert.Null(f.Matched);
        Assert.Equal("", f.Push("y"));                // "xy" held
        Assert.Equal("xya", f.Push("a"));
        Assert.Equal("", f.Flush());
    }

    [Fact]
    public void TheOutputIsCutAtTheEarliestStopString()
    {
        var f = new StopStringFilter(["lo w", "rl"]);
        Assert.Equal("He", f.Push("Hel"));            // "l" may start "lo w"
        Assert.Equal("l", f.Push("lo"));              // now "lo" may
        Assert.Equal("", f.Push(" wo"));
        Assert.Equal("lo w", f.Matched);
        Assert.Equal("", f.Push("rld"));               // nothing after a match
        Assert.Equal("", f.Flush());
    }

    [Fact]
    public void OfTwoStopsInOneBufferTheOneThatStartsFirstWinsWhateverTheirOrder()
    {
        var f = new StopStringFilter(["world", "lo"]);
        Assert.Equal("Hel", f.Push("Hello world"));   // "lo" starts at 3, "world" at 6: the earlier one cuts
        Assert.Equal("lo", f.Matched);
    }

    [Fact]
    public void HeldTextIsReleasedWhenTheOutputEnds()
    {
        var f = new StopStringFilter(["</s>"]);
        Assert.Equal("a", f.Push("a</"));
        Assert.Equal("</", f.Flush());
        Assert.Null(f.Matched);
    }

    [Fact]
    public async Task AStopStringEndsGenerationAndIsCutFromTheStream()
    {
        using var dir = new TempDir();
        int[] chain = ScriptedModel.CatSitsOnTheRedChair();
        using var engine = ScriptedModel.Load(dir, chain);
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new[] { PromptSegment.Text("a cat") };

        var free = await Collected.From(engine.GenerateAsync(session, prompt, SamplingParams.Greedy(16)));
        Assert.Equal(" sits on the red chair", free.Text);

        // "n the r" spans three tokens: it must be found across pieces and nothing of it may leak out.
        var stopped = await Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(16) with { Stop = ["n the r", "zzz"] }));
        Assert.Equal(" sits o", stopped.Text);
        Assert.Equal(FinishReason.Stop, stopped.Final.Reason);
        Assert.Equal("n the r", stopped.Final.MatchedStop);
        Assert.Equal(4, stopped.Final.Usage.CompletionTokens);  // sits on the red: the token completing the stop ends it
        Assert.All(stopped.Pieces, p => Assert.DoesNotContain("n the", p));
    }

    [Fact]
    public async Task StopStringsWorkOnFreeRunningOutput()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new[] { PromptSegment.Tokens(engine.Facts.BosToken!.Value), PromptSegment.Text("the small dog") };
        var greedy = SamplingParams.Greedy(24) with { IgnoreEos = true };
        var free = await Collected.From(engine.GenerateAsync(session, prompt, greedy));
        string text = free.Text;
        Assert.True(text.Length >= 12, text);

        // A stop string taken from the middle of the unconstrained output, at its first occurrence.
        string stop = text.Substring(text.Length / 2, 3);
        int at = text.IndexOf(stop, StringComparison.Ordinal);
        var cut = await Collected.From(engine.GenerateAsync(session, prompt, greedy with { Stop = [stop] }));
        Assert.Equal(text[..at], cut.Text);
        Assert.Equal(FinishReason.Stop, cut.Final.Reason);
        Assert.Equal(stop, cut.Final.MatchedStop);
    }
}
