namespace RegionChat.Llm.Engine;

/// <summary>What a loaded GGUF model and its context are: sizes, special tokens and chat template.</summary>
public sealed record LlmModelFacts
{
    public required string ModelPath { get; init; }
    public required string Description { get; init; }
    /// <summary>Width of a token embedding (n_embd); injected visual tokens must have this width.</summary>
    public required int EmbeddingWidth { get; init; }
    public required int VocabSize { get; init; }
    public required int LayerCount { get; init; }
    /// <summary>Context length the model was trained with (GGUF `llama.context_length`).</summary>
    public required int TrainContextLength { get; init; }
    /// <summary>KV cells of the context actually created (shared by all sequences).</summary>
    public required int ContextSize { get; init; }
    /// <summary>Positions one sequence (a session) may hold: the context size, capped at the trained context, since
    /// positions past <see cref="TrainContextLength"/> were never trained (llama.cpp only warns about them).</summary>
    public int SequenceLimit => TrainContextLength > 0 ? Math.Min(ContextSize, TrainContextLength) : ContextSize;
    public required int BatchSize { get; init; }
    public required int MaxSequences { get; init; }
    /// <summary>The GGUF `tokenizer.chat_template`, or null when the file has none.</summary>
    public string? ChatTemplate { get; init; }
    public int? BosToken { get; init; }
    public int? EosToken { get; init; }
    public int? EotToken { get; init; }
    /// <summary>Whether the vocabulary asks for BOS at the start of a prompt.</summary>
    public bool AddBos { get; init; }
    /// <summary>The text of the BOS token (e.g. "&lt;s&gt;"), used to avoid a double BOS with GGUF templates.</summary>
    public string? BosText { get; init; }
}
