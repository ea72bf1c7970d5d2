using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RegionChat.Data.Metrics;

/// <summary>
/// Turns caption text into the tokens the COCO caption scorers compare.
/// </summary>
/// <remarks>
/// <para>The reference pipeline runs Stanford CoreNLP 3.4.1's Java <c>PTBTokenizer -preserveLines -lowerCase</c> over
/// each caption and then drops the tokens <c>'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;</c>.
/// <see cref="Tokenize"/> follows it in C# for the text captions contain:</para>
/// <list type="bullet">
/// <item>lower-cases everything (invariant culture; Java uses Locale.ENGLISH: the same for letters in captions);</item>
/// <item>splits off punctuation and removes the tokens of that list;</item>
/// <item>splits English clitics as PTB does: "dog's" → dog 's, "they're" → they 're, "don't" → do n't,
/// "can't" → ca n't, "cannot" → can not, "gonna" → gon na (also gotta, wanna, gimme, lemme);</item>
/// <item>keeps hyphenated words and numbers such as 3.5, 1,000 and 10:30 as one token;</item>
/// <item>keeps the period of acronyms ("u.s.", "a.m.") and of a short list of abbreviations ("mr.", "st.", "etc.");</item>
/// <item>turns brackets into -lrb- -rrb- -lsb- -rsb- -lcb- -rcb- and KEEPS them: the Java tokenizer lower-cases
/// "-LRB-" before the scorer's filter, whose list is upper-case, so the reference keeps these tokens too;</item>
/// <item>maps curly quotes to quotes (removed), en/em dashes to "--" (removed) and "…" to "..." (removed).</item>
/// </list>
/// <para>Where it differs from the Java tokenizer (none of these occur in plain lower-case captions):</para>
/// <list type="bullet">
/// <item>no British → American respelling (3.4.1's default "americanize": colour → color); it matters only when a
/// candidate and its references spell a word differently;</item>
/// <item>PTB's longer abbreviation list, its sentence-final abbreviation rule, SGML/HTML entities (&amp;amp;), URLs,
/// e-mail addresses, phone numbers, emoticons, "'90s"-style leading apostrophes and "--"-joined words are not
/// special-cased here: they split at punctuation like any other text;</item>
/// <item>a "/" or "&amp;" between letters or digits ("and/or", "at&amp;t") keeps the word whole here; CoreNLP's rules for
/// these changed across versions and we have not checked 3.4.1's;</item>
/// <item>PTB-3 escapes "/" and "*" as "\/" and "\*"; we do not, which changes no score because the escape applies to
/// candidate and references alike;</item>
/// <item>a run of several "?" / "!" becomes several removed tokens here; either way none is kept.</item>
/// </list>
/// </remarks>
public static partial class CaptionTokenizer
{
    /// <summary>Tokens the reference scorers remove after tokenising (upper-case bracket forms included as they are).</summary>
    public static IReadOnlySet<string> RemovedTokens { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";",
    };

    static readonly HashSet<string> Clitics = new(StringComparer.Ordinal) { "s", "re", "ve", "ll", "d", "m" };

    static readonly HashSet<string> Abbreviations = new(StringComparer.Ordinal)
    {
        "mr", "mrs", "ms", "dr", "prof", "jr", "sr", "st", "mt", "ave", "blvd", "rd", "co", "corp", "inc", "ltd",
        "bros", "vs", "etc", "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt", "no", "ft", "jan", "feb", "mar",
        "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    };

    /// <summary>PTB's split of fused forms (the "splitAssimilations" rule).</summary>
    static readonly Dictionary<string, string[]> Assimilations = new(StringComparer.Ordinal)
    {
        ["cannot"] = ["can", "not"], ["gonna"] = ["gon", "na"], ["gotta"] = ["got", "ta"],
        ["wanna"] = ["wan", "na"], ["gimme"] = ["gim", "me"], ["lemme"] = ["lem", "me"],
    };

    [GeneratedRegex(@"\G\p{L}(?:\.\p{L})+\.?", RegexOptions.CultureInvariant)]
    private static partial Regex Acronym();

    /// <summary>Tokens of a caption the way the reference pipeline sees them (see the type's remarks).</summary>
    public static IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = Normalize(text);
        var tokens = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == ' ') { i++; continue; }
            if (IsWordChar(c)) { i = ReadWord(s, i, tokens); continue; }
            i = ReadSymbol(s, i, tokens);
        }
        tokens.RemoveAll(RemovedTokens.Contains);
        return tokens;
    }

    /// <summary>
    /// Text that is already tokenised: split on spaces (runs of spaces count as one). Other whitespace is refused,
    /// because the reference scorers treat it inconsistently (BLEU and CIDEr split on it, ROUGE-L does not).
    /// </summary>
    /// <exception cref="ArgumentException">The text contains whitespace other than the space character.</exception>
    public static IReadOnlyList<string> SplitPretokenized(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (char ch in text)
            if (ch != ' ' && char.IsWhiteSpace(ch))
                throw new ArgumentException($"pretokenized text must separate tokens with spaces only; found U+{(int)ch:X4}");
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\u2018' or '\u2019' or '\u201A' or '\u201B' or '\u2032': sb.Append('\''); break;
                case '\u201C' or '\u201D' or '\u201E' or '\u201F' or '\u2033' or '\u00AB' or '\u00BB': sb.Append('"'); break;
                case '\u2013' or '\u2014' or '\u2015': sb.Append(" -- "); break;
                case '\u2026': sb.Append(" ... "); break;
                default: sb.Append(char.IsWhiteSpace(c) || char.IsControl(c) ? ' ' : c); break;
            }
        }
        return sb.ToString().ToLowerInvariant();
    }

    static bool IsWordChar(char c) =>
        char.IsLetterOrDigit(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark;

    static bool IsWordCharAt(string s, int i) => i < s.Length && IsWordChar(s[i]);

    /// <summary>Reads a word starting at <paramref name="start"/>, emitting it (and any split-off clitic).</summary>
    static int ReadWord(string s, int start, List<string> tokens)
    {
        var acronym = Acronym().Match(s, start);
        if (acronym.Success && !IsWordCharAt(s, start + acronym.Length))
        {
            tokens.Add(acronym.Value);
            return start + acronym.Length;
        }

        int j = start;
        while (true)
        {
            while (IsWordCharAt(s, j)) j++;
            if (j >= s.Length) break;
            char c = s[j];
            if ((c is '-' or '/' or '&') && IsWordCharAt(s, j + 1)) { j++; continue; }
            if ((c is '.' or ',' or ':') && char.IsDigit(s[j - 1]) && j + 1 < s.Length && char.IsDigit(s[j + 1])) { j++; continue; }
            if (c == '\'')
            {
                int k = j + 1;
                while (k < s.Length && char.IsLetter(s[k])) k++;
                string after = s[(j + 1)..k];
                bool endsThere = !IsWordCharAt(s, k);
                if (endsThere && Clitics.Contains(after))
                {
                    AddWord(s[start..j], tokens);
                    tokens.Add("'" + after);
                    return k;
                }
                if (endsThere && after == "t" && j - start >= 2 && s[j - 1] == 'n')
                {
                    AddWord(s[start..(j - 1)], tokens);
                    tokens.Add("n't");
                    return k;
                }
                if (after.Length > 0) { j = k; continue; } // o'clock, d'angelo: one word
            }
            break;
        }

        string word = s[start..j];
        if (j < s.Length && s[j] == '.' && Abbreviations.Contains(word))
        {
            tokens.Add(word + ".");
            return j + 1;
        }
        AddWord(word, tokens);
        return j;
    }

    static void AddWord(string word, List<string> tokens)
    {
        if (Assimilations.TryGetValue(word, out var parts)) tokens.AddRange(parts);
        else tokens.Add(word);
    }

    /// <summary>Reads one non-word token at <paramref name="i"/>.</summary>
    static int ReadSymbol(string s, int i, List<string> tokens)
    {
        char c = s[i];
        switch (c)
        {
            case '\'':
            {
                // A clitic standing alone ("the dog 's bone") stays a token; any other apostrophe is a quote.
                int k = i + 1;
                while (k < s.Length && char.IsLetter(s[k])) k++;
                string after = s[(i + 1)..k];
                if (Clitics.Contains(after) && !IsWordCharAt(s, k)) { tokens.Add("'" + after); return k; }
                tokens.Add("'");
                return i + 1;
            }
            case '"': tokens.Add("``"); return i + 1;
            case '.':
            {
                if (IsWordCharAt(s, i + 1) && char.IsDigit(s[i + 1])) return ReadLeadingDecimal(s, i, tokens);
                int k = i;
                while (k < s.Length && s[k] == '.') k++;
                tokens.Add(k - i >= 3 ? "..." : ".");
                return k;
            }
            case '-':
            {
                int k = i;
                while (k < s.Length && s[k] == '-') k++;
                tokens.Add(k - i >= 2 ? "--" : "-");
                return k;
            }
            case '(': tokens.Add("-lrb-"); return i + 1;
            case ')': tokens.Add("-rrb-"); return i + 1;
            case '[': tokens.Add("-lsb-"); return i + 1;
            case ']': tokens.Add("-rsb-"); return i + 1;
            case '{': tokens.Add("-lcb-"); return i + 1;
            case '}': tokens.Add("-rcb-"); return i + 1;
        }
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            tokens.Add(s.Substring(i, 2));
            return i + 2;
        }
        tokens.Add(c.ToString());
        return i + 1;
    }

    static int ReadLeadingDecimal(string s, int i, List<string> tokens)
    {
        int k = i + 1;
        while (k < s.Length && char.IsDigit(s[k])) k++;
        tokens.Add(s[i..k]);
        return k;
    }
}
