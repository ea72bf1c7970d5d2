using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Engine;

/// <summary>
/// Renders a conversation into prompt segments: text pieces (tokenised separately; BOS only at the very start) and
/// the embedding blocks of images, which sit where LLaVA puts "&lt;image&gt;".
/// </summary>
public abstract class ChatTemplate
{
    /// <summary>LLaVA-1.5's conversation format: "{system} USER: &lt;image&gt;\n{question} ASSISTANT: {answer}&lt;/s&gt;".</summary>
    public const string LlavaV1 = "llava_v1";
    /// <summary>The same layout with the Vicuna system prompt ("user"/"user's").</summary>
    public const string VicunaV1 = "vicuna_v1";
    /// <summary>The GGUF's own tokenizer.chat_template through llama_chat_apply_template (text-only turns).</summary>
    public const string Gguf = "gguf";

    public static IReadOnlyList<string> Names { get; } = [LlavaV1, VicunaV1, Gguf];

    /// <summary>The template called <paramref name="name"/>, bound to a model's special tokens and chat template.</summary>
    public static ChatTemplate Create(string name, LlmModelFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        return name switch
        {
            LlavaV1 => new VicunaStyleTemplate(LlavaV1, VicunaStyleTemplate.LlavaSystem, facts),
            VicunaV1 => new VicunaStyleTemplate(VicunaV1, VicunaStyleTemplate.VicunaSystem, facts),
            Gguf => facts.ChatTemplate is { Length: > 0 } t
                ? new GgufChatTemplate(t, facts)
                : throw new InvalidOperationException(
                    $"chat template '{Gguf}' asked for, but {Path.GetFileName(facts.ModelPath)} has no tokenizer.chat_template"),
            _ => throw new ArgumentException($"unknown chat template '{name}'; known: {string.Join(", ", Names)}", nameof(name)),
        };
    }

    public abstract string Name { get; }

    /// <summary>The system prompt used when a conversation gives none (null: no system turn).</summary>
    public abstract string? DefaultSystemPrompt { get; }

    /// <summary>
    /// The whole conversation from its start: system prompt (null = the default), <paramref name="messages"/> (ending
    /// with a user turn), then the opening of the assistant's answer (with the last message's text when it is the
    /// assistant's, to continue).
    /// </summary>
    public abstract IReadOnlyList<PromptSegment> Render(string? systemPrompt, IReadOnlyList<ChatMessage> messages);

    /// <summary>
    /// What to append to a sequence that already holds <paramref name="history"/> (ending with a user turn) and the
    /// generated <paramref name="openAnswer"/>: the answer's closing, <paramref name="newMessages"/> and the next
    /// answer's opening. Null when the template can only express this by rendering everything again.
    /// </summary>
    public abstract IReadOnlyList<PromptSegment>? RenderFollowUp(string? systemPrompt, IReadOnlyList<ChatMessage> history,
        string openAnswer, IReadOnlyList<ChatMessage> newMessages);

    /// <summary>Whether a conversation may end with an assistant message that the answer continues (llama.cpp's and
    /// vLLM's "prefill"): the template can leave that message open.</summary>
    public virtual bool ContinuesAnswers => false;

    /// <summary>Throws ArgumentException unless the messages end with a user turn (or, with <see cref="ContinuesAnswers"/>,
    /// a user turn and the start of its answer) and only user turns hold images.</summary>
    public virtual void Validate(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("a conversation needs at least one message", nameof(messages));
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException("a message is null", nameof(messages));
            if (m.Text is null) throw new ArgumentException("a message has null text", nameof(messages));
            if (m.Image != null && m.Role != ChatRole.User)
                throw new ArgumentException("only user messages can hold an image", nameof(messages));
        }
        if (messages[^1].Role == ChatRole.User) return;
        if (!ContinuesAnswers)
            throw new ArgumentException($"the last message must be a user message (the assistant answers it; chat template {Name} " +
                "cannot continue an answer)", nameof(messages));
        if (messages.Count < 2 || messages[^2].Role != ChatRole.User)
            throw new ArgumentException("an answer to continue (a last assistant message) must follow a user message", nameof(messages));
    }

    public override string ToString() => Name;
}
