namespace RegionChat.Llm.Engine;

/// <summary>A piece of a rendered prompt; a prompt is a sequence of these, prefilled in order at consecutive positions.</summary>
public abstract record PromptSegment
{
    /// <summary>Text tokenised by the model's tokenizer, with no BOS.</summary>
    /// <param name="ParseSpecial">Whether special-token text like "&lt;|im_end|&gt;" becomes its token. Keep it off for user text.</param>
    public static PromptSegment Text(string text, bool parseSpecial = false) => new TextSegment(text, parseSpecial);

    public static PromptSegment Tokens(params int[] tokens) => new TokenSegment(tokens);

    public static PromptSegment Tokens(IEnumerable<int> tokens) => new TokenSegment(tokens.ToArray());

    public static PromptSegment Embeddings(EmbeddingBlock block) => new EmbeddingSegment(block);
}

public sealed record TextSegment(string Value, bool ParseSpecial) : PromptSegment;

/// <summary>Token ids fed as they are (BOS, EOS, or pre-tokenised text).</summary>
public sealed record TokenSegment(IReadOnlyList<int> Ids) : PromptSegment;

/// <summary>Raw embedding rows fed instead of token ids.</summary>
public sealed record EmbeddingSegment(EmbeddingBlock Block) : PromptSegment;
