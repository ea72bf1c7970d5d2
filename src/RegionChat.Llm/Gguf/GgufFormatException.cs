namespace RegionChat.Llm.Gguf;

/// <summary>A GGUF file is malformed, truncated or uses something this reader does not know.</summary>
public sealed class GgufFormatException : IOException
{
    public GgufFormatException(string message) : base(message) { }
    public GgufFormatException(string message, Exception inner) : base(message, inner) { }
}
