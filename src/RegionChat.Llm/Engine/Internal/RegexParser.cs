using System.Text;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>A parsed pattern: the part of regular expressions a byte automaton can follow without backtracking.</summary>
internal abstract record RegexNode;

/// <summary>One character out of a set: ASCII bytes, and any non-ASCII character or listed ones.</summary>
internal sealed record RegexCharSet(bool[] Ascii, bool AnyNonAscii, IReadOnlyList<byte[]> NonAscii) : RegexNode;

internal sealed record RegexConcat(IReadOnlyList<RegexNode> Parts) : RegexNode;

internal sealed record RegexAlternation(IReadOnlyList<RegexNode> Choices) : RegexNode;

/// <summary><paramref name="Max"/> -1: no upper bound.</summary>
internal sealed record RegexRepeat(RegexNode Item, int Min, int Max) : RegexNode;

/// <summary>
/// Parses vLLM's guided_regex syntax as far as it describes a regular language: literals, <c>.</c>, classes
/// (<c>[a-z]</c>, <c>[^…]</c>), <c>\d \w \s</c> and their complements (ASCII, as Python's <c>re.ASCII</c>), groups
/// (<c>( )</c>, <c>(?: )</c>, <c>(?P&lt;name&gt; )</c>), <c>|</c>, <c>* + ? {n} {n,} {n,m}</c> (lazy forms too: the same
/// language), and <c>^</c> / <c>$</c> at the ends (the whole answer matches anyway). Backreferences, lookarounds, word
/// boundaries, flags and Unicode properties are refused (ArgumentException naming the position), not ignored.
/// </summary>
internal sealed class RegexParser
{
    public const int MaxCount = 1000;
    readonly string pattern;
    int at;

    RegexParser(string pattern) => this.pattern = pattern;

    public static RegexNode Parse(string pattern)
    {
        var parser = new RegexParser(pattern);
        if (parser.Peek('^')) parser.at++;
        var node = parser.Alternation(0);
        if (parser.at < pattern.Length) throw parser.Bad(pattern[parser.at] == ')' ? "this ')' closes no group" : "unexpected character");
        return node;
    }

    bool Peek(char c) => at < pattern.Length && pattern[at] == c;

    RegexNode Alternation(int depth)
    {
        if (depth > 64) throw Bad("groups nest more than 64 deep");
        var choices = new List<RegexNode> { Sequence(depth) };
        while (Peek('|'))
        {
            at++;
            choices.Add(Sequence(depth));
        }
        return choices.Count == 1 ? choices[0] : new RegexAlternation(choices);
    }

    RegexNode Sequence(int depth)
    {
        var parts = new List<RegexNode>();
        while (at < pattern.Length && pattern[at] is not ('|' or ')'))
        {
            if (pattern[at] == '$')
            {
                at++;
                if (at < pattern.Length && pattern[at] is not ('|' or ')') || depth > 0)
                    throw Bad("'$' is supported only at the end of the pattern (the whole answer matches anyway)", at - 1);
                continue;
            }
            var atom = Atom(depth);
            parts.Add(Quantified(atom));
        }
        return parts.Count == 1 ? parts[0] : new RegexConcat(parts);
    }

    RegexNode Atom(int depth)
    {
        int start = at;
        char c = pattern[at++];
        switch (c)
        {
            case '(':
                if (Peek('?'))
                {
                    if (pattern.AsSpan(at).StartsWith("?:")) at += 2;
                    else if (pattern.AsSpan(at).StartsWith("?P<") || pattern.AsSpan(at).StartsWith("?<") && !pattern.AsSpan(at).StartsWith("?<=")
                             && !pattern.AsSpan(at).StartsWith("?<!"))
                    {
                        int close = pattern.IndexOf('>', at);
                        if (close < 0) throw Bad("a group name has no closing '>'", start);
                        at = close + 1;
                    }
                    else throw Bad("lookarounds, flags and other (?…) groups are not supported", start);
                }
                var inner = Alternation(depth + 1);
                if (!Peek(')')) throw Bad("this group is not closed", start);
                at++;
                return inner;
            case '[': return Class(start);
            case '.': return Set(Ascii(b => b != '\n'), anyNonAscii: true);
            case '\\':
                var (set, escaped) = Escape(start);
                return set ?? Literal(escaped);
            case '*' or '+' or '?' or '{': throw Bad("a quantifier needs something before it", start);
            case '^': throw Bad("'^' is supported only at the start of the pattern", start);
            default:
                at--;
                return Literal(NextRune());
        }
    }

    RegexNode Quantified(RegexNode atom)
    {
        if (at >= pattern.Length) return atom;
        int start = at;
        (int min, int max) = pattern[at] switch
        {
            '*' => (0, -1),
            '+' => (1, -1),
            '?' => (0, 1),
            '{' => Counts(),
            _ => (-1, -1),
        };
        if (min < 0) return atom;
        if (pattern[start] != '{') at++;
        if (Peek('?')) at++;                                       // lazy: the same language
        if (Peek('+')) throw Bad("possessive quantifiers are not supported", at);
        if (at < pattern.Length && pattern[at] is '*' or '+' or '?' or '{') throw Bad("a quantifier cannot follow a quantifier", at);
        return new RegexRepeat(atom, min, max);
    }

    (int, int) Counts()
    {
        int start = at++;
        int min = Number(start), max = min;
        if (Peek(','))
        {
            at++;
            max = Peek('}') ? -1 : Number(start);
        }
        if (!Peek('}')) throw Bad("a count {n}, {n,} or {n,m} is not closed", start);
        at++;
        if (max >= 0 && max < min) throw Bad($"the count's maximum {max} is below its minimum {min}", start);
        return (min, max);
    }

    int Number(int start)
    {
        int from = at;
        while (at < pattern.Length && char.IsAsciiDigit(pattern[at])) at++;
        if (at == from || !int.TryParse(pattern.AsSpan(from, at - from), out int n) || n > MaxCount)
            throw Bad($"a count must be a whole number up to {MaxCount}", start);
        return n;
    }

    RegexNode Class(int start)
    {
        bool negated = Peek('^');
        if (negated) at++;
        var ascii = new bool[128];
        bool anyNonAscii = false;
        var nonAscii = new List<byte[]>();
        bool first = true;
        while (at < pattern.Length && (pattern[at] != ']' || first))
        {
            first = false;
            int itemAt = at;
            int lo;
            if (pattern[at] == '\\')
            {
                at++;
                var (set, escaped) = Escape(itemAt);
                if (set != null)
                {
                    for (int b = 0; b < 128; b++) ascii[b] |= set.Ascii[b];
                    anyNonAscii |= set.AnyNonAscii;
                    continue;
                }
                lo = escaped;
            }
            else lo = NextRune();
            if (Peek('-') && at + 1 < pattern.Length && pattern[at + 1] != ']')
            {
                at++;
                int hi = pattern[at] == '\\' ? Escape(at++).Char : NextRune();
                if (hi < 0) throw Bad("a range cannot end in a class escape", itemAt);
                if (hi < lo) throw Bad("a range's end is below its start", itemAt);
                if (hi >= 128) throw Bad("ranges of non-ASCII characters are not supported (list the characters)", itemAt);
                for (int b = lo; b <= hi; b++) ascii[b] = true;
            }
            else if (lo < 128) ascii[lo] = true;
            else nonAscii.Add(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(lo)));
        }
        if (!Peek(']')) throw Bad("this class is not closed", start);
        at++;
        if (!negated) return new RegexCharSet(ascii, anyNonAscii, nonAscii);
        if (nonAscii.Count > 0 || anyNonAscii) throw Bad("a negated class may hold only ASCII characters", start);
        return Set(Ascii(b => !ascii[b]), anyNonAscii: true);
    }

    /// <summary>After a backslash: a class escape as its set (Char -1), or the character the escape stands for.</summary>
    (RegexCharSet? Set, int Char) Escape(int start)
    {
        if (at >= pattern.Length) throw Bad("the pattern ends with a backslash", start);
        char c = pattern[at++];
        static bool Digit(int b) => b is >= '0' and <= '9';
        static bool Word(int b) => Digit(b) || b is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or '_';
        static bool Space(int b) => b is ' ' or '\t' or '\n' or '\r' or '\f' or '\v';
        switch (c)
        {
            case 'd': return (Set(Ascii(b => Digit(b)), false), -1);
            case 'w': return (Set(Ascii(b => Word(b)), false), -1);
            case 's': return (Set(Ascii(b => Space(b)), false), -1);
            case 'D': return (Set(Ascii(b => !Digit(b)), true), -1);
            case 'W': return (Set(Ascii(b => !Word(b)), true), -1);
            case 'S': return (Set(Ascii(b => !Space(b)), true), -1);
            case 'n': return (null, '\n');
            case 't': return (null, '\t');
            case 'r': return (null, '\r');
            case 'f': return (null, '\f');
            case 'v': return (null, '\v');
        }
        if (char.IsAsciiLetterOrDigit(c))
            throw Bad($"the escape \\{c} is not supported (backreferences, \\b, \\p{{…}} and the like)", start);
        if (c >= 128) throw Bad("escape only ASCII punctuation", start);
        return (null, c);
    }

    int NextRune()
    {
        if (char.IsHighSurrogate(pattern[at]) && at + 1 < pattern.Length && char.IsLowSurrogate(pattern[at + 1]))
        {
            at += 2;
            return char.ConvertToUtf32(pattern[at - 2], pattern[at - 1]);
        }
        if (char.IsSurrogate(pattern[at])) throw Bad("half a surrogate pair");
        return pattern[at++];
    }

    static RegexNode Literal(int rune) => rune < 128 ? Set(Ascii(b => b == rune), false)
        : new RegexCharSet(new bool[128], false, [Encoding.UTF8.GetBytes(char.ConvertFromUtf32(rune))]);

    static RegexCharSet Set(bool[] ascii, bool anyNonAscii) => new(ascii, anyNonAscii, []);

    static bool[] Ascii(Func<int, bool> member) => Enumerable.Range(0, 128).Select(member).ToArray();

    ArgumentException Bad(string problem, int? where = null) =>
        new($"pattern: at character {(where ?? at) + 1}: {problem}", nameof(SamplingParams.OutputFormat));
}
