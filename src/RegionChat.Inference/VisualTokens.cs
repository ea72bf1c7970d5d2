using RegionChat.Llm.Engine;

namespace RegionChat.Inference;

/// <summary>The projected visual tokens of one (image, region): what replaces &lt;image&gt; in the prompt.
/// <see cref="EncodeMs"/> is the wall time of the vision forward that produced them (shared by a batch).</summary>
public sealed record VisualTokens(EmbeddingBlock Block, double EncodeMs)
{
    /// <summary>With a visual-token budget, the rows kept (indices into the model's full visual tokens, ascending);
    /// null when every token was kept.</summary>
    public IReadOnlyList<int>? Kept { get; init; }

    public int Count => Block.Count;
    public int Width => Block.Width;
    public long SizeBytes => (long)Block.Data.Length * sizeof(float);
}
