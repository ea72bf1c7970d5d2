namespace RegionChat.Inference;

/// <summary>A token of a model's LLM vocabulary: its id and the bytes it stands for in output text (empty for control
/// tokens such as BOS).</summary>
public sealed record TextToken(int Id, byte[] Bytes);

/// <summary>A text as a model's tokens (<see cref="RegionChatCore.Tokenize"/>), and how many positions one session may
/// hold.</summary>
public sealed record TokenizeResult(string Model, IReadOnlyList<TextToken> Tokens, int SessionContext);

/// <summary>Token ids as text (<see cref="RegionChatCore.Detokenize"/>): their bytes as UTF-8, a broken character as
/// U+FFFD.</summary>
public sealed record DetokenizeResult(string Model, string Text);
