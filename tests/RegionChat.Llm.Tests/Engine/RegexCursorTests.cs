using System.Text;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using DotNetRegex = System.Text.RegularExpressions.Regex;
using DotNetOptions = System.Text.RegularExpressions.RegexOptions;

namespace RegionChat.Llm.Tests.Engine;

public class RegexCursorTests
{
    static OutputCursor Cursor(string pattern) => OutputFormat.Regex(pattern).Start();

    /// <summary>Whether the cursor takes all of <paramref name="text"/> and may end there; a cursor that keeps at most
    /// one built state (dropping them after every byte) must say the same.</summary>
    static bool Takes(string pattern, byte[] text)
    {
        bool Run(OutputCursor cursor)
        {
            foreach (byte b in text)
            {
                if (!cursor.Allows([b])) return false;
                cursor.Advance([b]);
            }
            return cursor.Complete;
        }
        bool taken = Run(Cursor(pattern));
        Assert.Equal(taken, Run(new RegexCursor(ByteNfa.Build(RegexParser.Parse(pattern), leadingSpace: true), maxStates: 1)));
        return taken;
    }

    /// <summary>Every string of up to five characters over an alphabet of the patterns' characters (BMP only: .NET's
    /// regex matches UTF-16 units, the cursor whole characters), against .NET's regex anchored at both ends (ECMAScript:
    /// \d \w \s are ASCII there, as here); the cursor also allows one leading space, as choices do.</summary>
    [Theory]
    [InlineData("a(b|c)*d?")]
    [InlineData("(ab|x1)")]
    [InlineData("[0-9]{1,3}")]
    [InlineData("\\d+\\.\\d")]
    [InlineData("[^a ]+")]
    [InlineData("a.b")]
    [InlineData("(?:ab|a)b?")]
    [InlineData("\\w\\s\\W")]
    [InlineData("x{2}y{0,2}é")]
    [InlineData("^(a|€)+$")]
    [InlineData("[a-c\\d]{2,}|ε")]
    [InlineData("(a*)*b")]
    [InlineData("a+?b{1,}?")]
    [InlineData("\\D\\S")]
    [InlineData("")]
    public void ItTakesExactlyWhatTheRegexMatchesWhole(string pattern)
    {
        const string alphabet = "ab1 .é€\nx";
        // .NET's $ also matches before a last newline: the lookahead says the text ends there.
        var reference = new DotNetRegex("^(?:" + pattern + ")(?![\\s\\S])", DotNetOptions.ECMAScript);
        int matched = 0;
        var text = new StringBuilder();
        void Each(int length)
        {
            string s = text.ToString();
            bool expected = reference.IsMatch(s) || s.StartsWith(' ') && reference.IsMatch(s[1..]);
            Assert.True(expected == Takes(pattern, Encoding.UTF8.GetBytes(s)), $"/{pattern}/ on \"{s}\": expected {expected}");
            if (expected) matched++;
            if (length == 0) return;
            foreach (char c in alphabet)
            {
                text.Append(c);
                Each(length - 1);
                text.Length--;
            }
        }
        Each(5);
        Assert.True(pattern.Length == 0 || matched > 0, $"/{pattern}/ matched nothing over the alphabet");
    }

    [Theory]
    [InlineData("(a", "character 1: this group is not closed")]
    [InlineData("a)", "character 2: this ')' closes no group")]
    [InlineData("*a", "character 1: a quantifier needs")]
    [InlineData("a**", "character 3: a quantifier cannot follow")]
    [InlineData("(a)\\1", "character 4: the escape \\1")]
    [InlineData("(?=a)", "character 1: lookarounds")]
    [InlineData("(?i)a", "character 1: lookarounds, flags")]
    [InlineData("a\\b", "character 2: the escape \\b")]
    [InlineData("\\p{L}", "the escape \\p")]
    [InlineData("[z-a]", "below its start")]
    [InlineData("[à-é]", "ranges of non-ASCII")]
    [InlineData("[^é]", "a negated class may hold only ASCII")]
    [InlineData("a{3,2}", "below its minimum")]
    [InlineData("a{1001}", "up to 1000")]
    [InlineData("a^b", "character 2: '^' is supported only at the start")]
    [InlineData("a$b", "character 2: '$' is supported only at the end")]
    [InlineData("[ab", "this class is not closed")]
    [InlineData("a\\", "ends with a backslash")]
    [InlineData("(x{1000}){1000}", "expands to more than 10000")]
    public void WhatItCannotFollowIsRefusedNamingWhere(string pattern, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => OutputFormat.Regex(pattern));
        Assert.Contains(message, e.Message);
        Assert.Equal(nameof(SamplingParams.OutputFormat), e.ParamName);
        Assert.Throws<ArgumentException>(() => OutputFormat.Regex(new string('a', RegexFormat.MaxPatternBytes + 1)));
    }

    [Fact]
    public void AnyCharacterIsWholeUtf8AndTheCursorKnowsWhenNothingMayFollow()
    {
        Assert.True(Takes(".", [0xC3, 0xA9]));
        Assert.True(Takes(".", [0xF0, 0x9F, 0x98, 0x80]));      // one character, four bytes
        Assert.False(Cursor(".").Allows([0xA9]));                 // a continuation byte alone
        Assert.False(Cursor(".").Allows([0xED, 0xA0]));           // a surrogate
        Assert.False(Cursor(".").Allows([0xC0]));
        Assert.False(Takes(".", "\n"u8.ToArray()));
        Assert.False(Takes(".", [0xC3]));                          // half a character may not end the answer

        var cursor = Cursor("ab*");
        cursor.Advance("ab"u8);
        Assert.True(cursor.Complete && !cursor.Closed);
        var closed = Cursor("ab");
        closed.Advance(" ab"u8);
        Assert.True(closed.Complete && closed.Closed);
        Assert.False(Cursor("ab").Allows("  ab"u8));               // one leading space, no more
    }

    [Fact]
    public void AStepsWorkIsBoundedAndTheNextStepHasItsBoundAgain()
    {
        // Chained optionals: every state of the cursor holds hundreds of the automaton's, so a move costs much.
        var nfa = ByteNfa.Build(RegexParser.Parse("(.?){300}"), leadingSpace: true);
        var cursor = new RegexCursor(nfa, stepWork: 20_000);
        Assert.True(cursor.Allows("a"u8));                          // the first moves fit the bound
        int refused = 0;
        for (int b = 'a'; b <= 'z'; b++)
            if (!cursor.Allows([(byte)'q', (byte)b, (byte)'x'])) refused++;
        Assert.True(refused > 0, "the bound never held back a token");
        cursor.Advance("qrx"u8);                                   // what the bound held back is still in the pattern
        Assert.True(cursor.Allows("y"u8) && cursor.Complete && !cursor.Closed);
        var unbounded = new RegexCursor(nfa);
        for (int b = 'a'; b <= 'z'; b++) Assert.True(unbounded.Allows([(byte)'q', (byte)b, (byte)'x']));
    }

    [Fact]
    public void ManyStatesAreBuiltAgainPastTheCap()
    {
        // Each run of the pattern's alternatives keeps many automaton states alive: the cursor drops and rebuilds its
        // built states as it goes, and still takes exactly the matching text.
        string pattern = "([a-z]{0,12}[0-9]){1,40}";
        var cursor = new RegexCursor(ByteNfa.Build(RegexParser.Parse(pattern), leadingSpace: true), maxStates: 64);
        var random = new Random(5);
        var text = new StringBuilder();
        for (int i = 0; i < 40; i++) text.Append(new string((char)('a' + random.Next(26)), random.Next(13))).Append((char)('0' + random.Next(10)));
        int most = 0;
        foreach (byte b in Encoding.ASCII.GetBytes(text.ToString()))
        {
            for (int other = 0; other < 256; other++) cursor.Allows([(byte)other]);   // as a mask tests every token
            Assert.True(cursor.Allows([b]));
            cursor.Advance([b]);
            most = Math.Max(most, cursor.BuiltStates);
            Assert.InRange(cursor.BuiltStates, 1, 64);                                // dropped once past the cap
        }
        Assert.True(most > 32, $"only {most} states were built: the cap was not tested");
        Assert.True(cursor.Complete);
        Assert.False(cursor.Allows("0"u8) && cursor.Closed);
    }
}
