namespace RegionChat.Llm.Vocabulary;

/// <summary>llama.cpp's token types (tokenizer.ggml.token_type values).</summary>
public enum LlamaTokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
