namespace RegionChat.Llm.Engine;

public enum ChatRole { User, Assistant }

/// <summary>One turn of a conversation. A user turn may carry an image as visual tokens, placed where the template puts "&lt;image&gt;".</summary>
public sealed record ChatMessage(ChatRole Role, string Text, EmbeddingBlock? Image = null)
{
    public static ChatMessage User(string text, EmbeddingBlock? image = null) => new(ChatRole.User, text, image);
    public static ChatMessage Assistant(string text) => new(ChatRole.Assistant, text);
}
