using RegionChat.Inference.Internal;

namespace RegionChat.Inference;

/// <summary>
/// Stored label sets for zero-shot classification: ids a request names (<see cref="ClassifyRequest.LabelSet"/>) instead
/// of its labels, declared by the server's configuration (<c>RegionChat:LabelSets:&lt;id&gt;:Labels</c> or <c>:File</c>).
/// Ids are case-insensitive, as configuration keys are. Their text features come from the classifier's LRU cache by
/// (model, label), so a set costs one text forward per label until evicted.
/// </summary>
public static class LabelSets
{
    /// <summary>Characters of a label set id besides letters and digits.</summary>
    const string IdPunctuation = "._-:";

    /// <summary>The labels of a labels file: one per line, trimmed; empty lines and lines starting with '#' skipped.</summary>
    public static string[] ReadFile(string path) =>
        File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();

    /// <summary>What is wrong with a set (its id or labels) as a request's labels would be refused; empty when it is fine.</summary>
    public static IEnumerable<string> Problems(string id, IReadOnlyList<string> labels, int maxIdLength)
    {
        if (id.Length == 0 || id.Length > maxIdLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || IdPunctuation.Contains(c)))
            yield return $"id '{id}' must be 1 to {maxIdLength} characters of A-Z, a-z, 0-9, '.', '_', '-', ':'";
        if (labels.Count == 0) yield return "has no labels";
        if (labels.Count > ClassifyRunner.MaxLabels) yield return $"holds {labels.Count} labels; the limit is {ClassifyRunner.MaxLabels}";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
        {
            string label = labels[i] ?? "";
            if (label.Trim().Length == 0) yield return $"label {i} is empty";
            else if (label.Length > ClassifyRunner.MaxLabelChars)
                yield return $"label {i} is {label.Length} characters; the limit is {ClassifyRunner.MaxLabelChars}";
            else if (!seen.Add(label)) yield return $"label {i} repeats '{label}'";
        }
    }
}
