namespace RegionChat.Llm.Engine.Internal;

/// <summary>A tokenised run of a prompt: consecutive positions fed either as token ids or as embedding rows
/// (llama.cpp takes one kind per decode call).</summary>
internal abstract class PromptItem
{
    public abstract int Count { get; }
}

internal sealed class TokenRun(int[] tokens) : PromptItem
{
    public int[] Tokens { get; } = tokens;
    public override int Count => Tokens.Length;
}

internal sealed class EmbeddingRun(EmbeddingBlock block) : PromptItem
{
    public EmbeddingBlock Block { get; } = block;
    public override int Count => Block.Count;
}

/// <summary>One position planned for a decode step: a token (<see cref="Token"/>) or row <see cref="Row"/> of
/// <see cref="Block"/>.</summary>
internal readonly record struct StepPosition(GenerationRequest Request, int Token, EmbeddingBlock? Block, int Row, int Position, bool Logits);
