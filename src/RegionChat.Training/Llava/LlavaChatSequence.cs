namespace RegionChat.Training.Llava;

/// <summary>
/// A conversation in token ids, split where images go: <see cref="Texts"/> holds one more run than there are images
/// (run 0, image 0, run 1, image 1, …, last run). <see cref="Counted"/> marks, per run, the tokens the loss counts (the
/// answers and their EOS), each predicted from the position before it.
/// </summary>
public sealed record LlavaChatSequence(IReadOnlyList<int[]> Texts, IReadOnlyList<bool[]> Counted)
{
    /// <summary>Images the conversation shows.</summary>
    public int Images => Texts.Count - 1;

    /// <summary>Positions of the whole conversation with images of <paramref name="imageTokens"/> rows.</summary>
    public int Length(int imageTokens) => Texts.Sum(t => t.Length) + Images * imageTokens;
}
