using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RegionChat.Data.Text.Internal;

/// <summary>
/// Python's <c>html.unescape</c>: numeric references (decimal or hex, the semicolon optional; the HTML5 replacements for
/// 0x80–0x9F and 0, U+FFFD for surrogates and beyond U+10FFFF, nothing for the other invalid code points) and the 2,231
/// HTML5 named references (some valid without a semicolon; otherwise the longest known prefix is replaced), from the
/// table Python ships (<c>html5-entities.txt</c>, embedded).
/// </summary>
internal static partial class PythonHtml
{
    static readonly Lazy<Dictionary<string, string>> Named = new(LoadNamed);

    static readonly Dictionary<int, string> InvalidCharrefs = new()
    {
        [0x00] = "\uFFFD", [0x0D] = "\r", [0x80] = "\u20AC", [0x81] = "\x81", [0x82] = "\u201A", [0x83] = "\u0192", [0x84] = "\u201E",
        [0x85] = "\u2026", [0x86] = "\u2020", [0x87] = "\u2021", [0x88] = "\u02C6", [0x89] = "\u2030", [0x8A] = "\u0160", [0x8B] = "\u2039",
        [0x8C] = "\u0152", [0x8D] = "\x8D", [0x8E] = "\u017D", [0x8F] = "\x8F", [0x90] = "\x90", [0x91] = "\u2018", [0x92] = "\u2019",
        [0x93] = "\u201C", [0x94] = "\u201D", [0x95] = "\u2022", [0x96] = "\u2013", [0x97] = "\u2014", [0x98] = "\u02DC", [0x99] = "\u2122",
        [0x9A] = "\u0161", [0x9B] = "\u203A", [0x9C] = "\u0153", [0x9D] = "\x9D", [0x9E] = "\u017E", [0x9F] = "\u0178",
    };

    [GeneratedRegex(@"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)", RegexOptions.CultureInvariant)]
    private static partial Regex CharRef();

    public static string Unescape(string text) => !text.Contains('&') ? text : CharRef().Replace(text, m => Replace(m.Groups[1].Value));

    static string Replace(string s)
    {
        if (s[0] == '#')
        {
            bool hex = s[1] is 'x' or 'X';
            string digits = s[(hex ? 2 : 1)..].TrimEnd(';').TrimStart('0');
            // Python's int() has no bound: anything longer than 8 significant digits is beyond U+10FFFF.
            long num = digits.Length == 0 ? 0 : digits.Length > 8 ? long.MaxValue
                : long.Parse(digits, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture);
            if (InvalidCharrefs.TryGetValue((int)Math.Min(num, int.MaxValue), out var replacement) && num <= int.MaxValue) return replacement;
            if (num is >= 0xD800 and <= 0xDFFF || num > 0x10FFFF) return "\uFFFD";
            if (InvalidCodePoint((int)num)) return "";
            return char.ConvertFromUtf32((int)num);
        }
        var named = Named.Value;
        if (named.TryGetValue(s, out var value)) return value;
        for (int x = s.Length - 1; x > 1; x--)
            if (named.TryGetValue(s[..x], out var prefix)) return prefix + s[x..];
        return "&" + s;
    }

    static bool InvalidCodePoint(int c) =>
        c is >= 0x1 and <= 0x8 or 0xB or >= 0xE and <= 0x1F or >= 0x7F and <= 0x9F or >= 0xFDD0 and <= 0xFDEF || (c & 0xFFFE) == 0xFFFE;

    static Dictionary<string, string> LoadNamed()
    {
        using var stream = typeof(PythonHtml).Assembly.GetManifestResourceStream("html5-entities.txt")
            ?? throw new InvalidOperationException("RegionChat.Data lacks its embedded html5-entities.txt");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var table = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int tab = line.IndexOf('\t');
            table[line[..tab]] = string.Concat(line[(tab + 1)..].Split(' ').Select(h => char.ConvertFromUtf32(int.Parse(h, NumberStyles.AllowHexSpecifier,
                CultureInfo.InvariantCulture))));
        }
        return table;
    }
}
