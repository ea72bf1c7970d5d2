using System.Text;
using CsCheck;
using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Fuzz;

/// <summary>A pattern with characters flipped, cut or inserted, then an answer edited the same way: the pattern compiles
/// or is refused with an ArgumentException, and the answer's bytes are taken or refused one by one, never another
/// exception; a taken answer that may end is what .NET's regex matches whole. A failure prints the seed that replays it.</summary>
public sealed class RegexProperties
{
    const string Pattern = "(a )?(small|large) [a-z]{2,}(\\d+|[^x-z])*é?.";
    const string Answer = " a small red42qé!";
    const string Inserted = "()[]{}|*+?.^$\\-,:0123456789adsw é";

    static string Apply(string text, (int Op, int At, int Value) edit)
    {
        int at = text.Length == 0 ? 0 : Math.Min(edit.At, text.Length - 1);
        return edit.Op switch
        {
            0 when text.Length > 0 => text.Remove(at, 1),
            1 => text[..at],
            _ => text.Insert(at, Inserted[edit.Value % Inserted.Length].ToString()),
        };
    }

    static readonly Gen<(int, int, int)[]> Edits = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 60], Gen.Int[0, 100]).Array[0, 3];

    [Fact]
    public void AnyDamagedPatternAndAnswerIsTakenOrRefused()
    {
        int compiled = 0, matched = 0;
        Gen.Select(Edits, Edits).Sample((patternEdits, answerEdits) =>
        {
            string pattern = patternEdits.Aggregate(Pattern, Apply);
            OutputFormat format;
            try { format = OutputFormat.Regex(pattern); }
            catch (ArgumentException) { return; }
            compiled++;
            string answer = answerEdits.Aggregate(Answer, Apply);
            var cursor = format.Start();
            bool whole = true;
            foreach (byte b in Encoding.UTF8.GetBytes(answer))
            {
                if (!cursor.Allows([b])) { whole = false; break; }
                cursor.Advance([b]);
            }
            if (!whole || !cursor.Complete) return;
            matched++;
            // ECMAScript: \d \w \s are ASCII there, as here. The cursor allows one leading space first.
            var reference = new System.Text.RegularExpressions.Regex("^(?:" + pattern + ")(?![\\s\\S])",
                System.Text.RegularExpressions.RegexOptions.ECMAScript);
            Assert.True(reference.IsMatch(answer) || answer.StartsWith(' ') && reference.IsMatch(answer[1..]), $"/{pattern}/ took \"{answer}\"");
        }, iter: 2000, threads: 1);
        Assert.True(compiled > 300 && matched > 50, $"{compiled} patterns compiled, {matched} answers taken whole");
    }
}
