using System.Globalization;
using System.Text.RegularExpressions;

namespace RegionChat.Server.Tests;

/// <summary>Reads samples out of Prometheus text exposition.</summary>
static partial class PrometheusText
{
    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})?\s+(?<value>\S+)""")]
    private static partial Regex Sample();

    [GeneratedRegex("""(?<k>[a-zA-Z_][a-zA-Z0-9_]*)="(?<v>[^"]*)" """, RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Label();

    /// <summary>The sum of the samples called <paramref name="name"/> whose labels include <paramref name="labels"/>;
    /// null when there is none.</summary>
    public static double? Value(string text, string name, params (string Key, string Value)[] labels)
    {
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            var m = Sample().Match(line);
            if (!m.Success || m.Groups["name"].Value != name) continue;
            var have = Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups["k"].Value, l => l.Groups["v"].Value);
            if (labels.All(l => have.TryGetValue(l.Key, out var v) && v == l.Value))
                sum = (sum ?? 0) + double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
