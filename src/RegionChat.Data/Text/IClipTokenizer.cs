namespace RegionChat.Data.Text;

/// <summary>A CLIP text tower's tokenizer: the CLIP BPE (<see cref="ClipBpeTokenizer"/>) or a closed word list (shapes).</summary>
public interface IClipTokenizer
{
    /// <summary>Positions of the tower (the longest token sequence, markers included).</summary>
    int ContextLength { get; }

    /// <summary>Ids 0 … VocabularySize-1.</summary>
    int VocabularySize { get; }

    /// <summary>A text's ids with start and end markers, at most <see cref="ContextLength"/>, unpadded, and the position
    /// whose features the tower reads. Text the tokenizer cannot represent throws <see cref="ArgumentException"/>.</summary>
    ClipTokens Tokenize(string text);
}

/// <summary>Token ids (markers included, unpadded) and the position the text features are read at.</summary>
public sealed record ClipTokens(int[] Ids, int EndPosition);
