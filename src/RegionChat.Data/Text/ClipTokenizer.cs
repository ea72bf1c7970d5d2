using RegionChat.Data.Shapes;

namespace RegionChat.Data.Text;

/// <summary>
/// Word-level tokenizer of the CLIP text tower: one id per word of a closed vocabulary, wrapped in start/end markers.
/// Ids 0, 1, 2 are always &lt;pad&gt;, &lt;sot&gt;, &lt;eot&gt;; the words follow. The shapes world's text is lower case
/// words separated by single spaces, so no sub-word pieces are needed.
/// </summary>
public sealed class ClipTokenizer : IClipTokenizer
{
    public const string PadToken = "<pad>", StartToken = "<sot>", EndToken = "<eot>";
    public const int PadId = 0, StartId = 1, EndId = 2;
    public const int DefaultContextLength = 32;
    const int MaxVocabulary = 1_000_000, MaxContextLength = 4096;

    readonly Dictionary<string, int> ids;

    /// <param name="vocabulary">Id → token; must start with &lt;pad&gt;, &lt;sot&gt;, &lt;eot&gt; and hold no duplicates or spaces.</param>
    /// <param name="contextLength">Longest token sequence including the two markers.</param>
    public ClipTokenizer(IReadOnlyList<string> vocabulary, int contextLength = DefaultContextLength)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.Count < 4 || vocabulary.Count > MaxVocabulary)
            throw new ArgumentException(
                $"a CLIP vocabulary needs the 3 markers and at least one word (at most {MaxVocabulary} entries), got {vocabulary.Count}");
        if (vocabulary[PadId] != PadToken || vocabulary[StartId] != StartToken || vocabulary[EndId] != EndToken)
            throw new ArgumentException($"a CLIP vocabulary starts with {PadToken}, {StartToken}, {EndToken}");
        if (contextLength < 3 || contextLength > MaxContextLength)
            throw new ArgumentException($"context length {contextLength} must be in 3..{MaxContextLength}");
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Count; i++)
        {
            string token = vocabulary[i];
            if (string.IsNullOrEmpty(token) || token.Contains(' '))
                throw new ArgumentException($"vocabulary entry {i} ('{token}') is empty or holds a space");
            if (!ids.TryAdd(token, i)) throw new ArgumentException($"vocabulary holds '{token}' twice");
        }
        Vocabulary = vocabulary.ToArray();
        ContextLength = contextLength;
    }

    /// <summary>The markers, then <see cref="ShapesCorpus.Words"/> (every word of the shapes world's text).</summary>
    public static ClipTokenizer ForShapes(int contextLength = DefaultContextLength) =>
        new([PadToken, StartToken, EndToken, .. ShapesCorpus.Words], contextLength);

    public IReadOnlyList<string> Vocabulary { get; }

    public int ContextLength { get; }

    public int VocabularySize => Vocabulary.Count;

    /// <summary>[&lt;sot&gt;, words…, &lt;eot&gt;], unpadded. Unknown words and over-long texts throw ArgumentException.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length + 2 > ContextLength)
            throw new ArgumentException($"text of {words.Length} words does not fit the context of {ContextLength} tokens (2 are markers): '{Shorten(text)}'");
        var result = new int[words.Length + 2];
        result[0] = StartId;
        for (int i = 0; i < words.Length; i++)
            result[i + 1] = ids.TryGetValue(words[i], out int id) ? id
                : throw new ArgumentException($"word '{Shorten(words[i])}' is not in the CLIP vocabulary ({VocabularySize} tokens)");
        result[^1] = EndId;
        return result;
    }

    /// <summary>The words of a token sequence, without markers and padding.</summary>
    public string Decode(IEnumerable<int> tokens) =>
        string.Join(' ', tokens.Where(t => t > EndId).Select(t => t < VocabularySize ? Vocabulary[t]
            : throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id {t} is outside the vocabulary of {VocabularySize}")));

    /// <summary>[&lt;sot&gt;, words…, &lt;eot&gt;] and the end marker's position (where the tower reads the features).</summary>
    public ClipTokens Tokenize(string text)
    {
        var ids = Encode(text);
        return new ClipTokens(ids, ids.Length - 1);
    }

    static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
