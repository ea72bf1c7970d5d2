namespace RegionChat.Llm.Engine;

/// <summary>
/// Rows of raw input embeddings, row-major [Count, Width], injected in place of token embeddings (e.g. the 576
/// projected visual tokens of an image). The engine reads the memory during prefill and never writes it: the caller
/// must not change it until the generation that uses it has finished.
/// </summary>
public sealed class EmbeddingBlock
{
    public EmbeddingBlock(ReadOnlyMemory<float> data, int width)
    {
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "embedding width must be positive");
        if (data.Length == 0) throw new ArgumentException("an embedding block needs at least one row", nameof(data));
        if (data.Length % width != 0)
            throw new ArgumentException($"{data.Length} floats are not a whole number of rows of width {width}", nameof(data));
        Data = data;
        Width = width;
        Count = data.Length / width;
    }

    public ReadOnlyMemory<float> Data { get; }
    public int Width { get; }
    /// <summary>Number of rows, i.e. KV positions the block takes.</summary>
    public int Count { get; }

    public ReadOnlySpan<float> Row(int i) => Data.Span.Slice(i * Width, Width);
}
