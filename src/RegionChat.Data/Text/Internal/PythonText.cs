using System.Globalization;
using System.Text;

namespace RegionChat.Data.Text.Internal;

/// <summary>Python 3 string semantics the CLIP tokenizer relies on: <c>str.isspace</c>, <c>str.strip</c>,
/// <c>re.sub(r'\s+', ' ', …)</c> and <c>str.lower</c> (full case mapping: İ → i + U+0307, and the final sigma).</summary>
internal static class PythonText
{
    // Case-ignorable characters that are not of a case-ignorable category (Word_Break MidLetter, MidNumLet, Single_Quote).
    const string IgnorableMarks = "'.:\u00B7\u0387\u055F\u05F4\u2018\u2019\u2024\u2027\uFE13\uFE52\uFE55\uFF07\uFF0E\uFF1A";

    /// <summary>str.isspace: Unicode White_Space plus the separators U+001C…U+001F.</summary>
    public static bool IsSpace(Rune r) => Rune.IsWhiteSpace(r) || r.Value is >= 0x1C and <= 0x1F;

    public static string Strip(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        int start = 0, end = runes.Length;
        while (start < end && IsSpace(runes[start])) start++;
        while (end > start && IsSpace(runes[end - 1])) end--;
        return Join(runes, start, end);
    }

    public static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool inSpace = false;
        foreach (var r in text.EnumerateRunes())
        {
            if (IsSpace(r))
            {
                if (!inSpace) sb.Append(' ');
                inSpace = true;
                continue;
            }
            inSpace = false;
            sb.Append(r.ToString());
        }
        return sb.ToString();
    }

    public static string Lower(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            var r = runes[i];
            if (r.Value == 0x130) sb.Append("i\u0307");
            else if (r.Value == 0x3A3) sb.Append(FinalSigma(runes, i) ? '\u03C2' : '\u03C3');
            else sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    // Python's handle_capital_sigma: \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}).
    static bool FinalSigma(Rune[] runes, int i)
    {
        int j = i - 1;
        while (j >= 0 && CaseIgnorable(runes[j])) j--;
        if (j < 0 || !Cased(runes[j])) return false;
        j = i + 1;
        while (j < runes.Length && CaseIgnorable(runes[j])) j++;
        return j == runes.Length || !Cased(runes[j]);
    }

    static bool Cased(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter;

    static bool CaseIgnorable(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
        or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || (r.IsBmp && IgnorableMarks.Contains((char)r.Value));

    static string Join(Rune[] runes, int start, int end)
    {
        var sb = new StringBuilder();
        for (int k = start; k < end; k++) sb.Append(runes[k].ToString());
        return sb.ToString();
    }
}
