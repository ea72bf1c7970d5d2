using LLama;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// The model's own chat template (GGUF tokenizer.chat_template), applied by llama_chat_apply_template, which knows
/// llama.cpp's built-in formats (chatml, llama2/3, zephyr, …) by their tell-tale markers. The rendered text is
/// tokenised with special tokens parsed. Turns are text-only. A follow-up is the difference between the rendering
/// with and without the new turns.
/// </summary>
internal sealed class GgufChatTemplate(string template, LlmModelFacts facts) : ChatTemplate
{
    public override string Name => Gguf;
    public override string? DefaultSystemPrompt => null;

    public override void Validate(IReadOnlyList<ChatMessage> messages)
    {
        base.Validate(messages);
        if (messages.Any(m => m.Image != null))
            throw new ArgumentException($"the '{Gguf}' chat template takes text-only turns; use {LlavaV1} for images", nameof(messages));
    }

    public override IReadOnlyList<PromptSegment> Render(string? systemPrompt, IReadOnlyList<ChatMessage> messages)
    {
        Validate(messages);
        string text = Apply(systemPrompt, messages);
        var segments = new List<PromptSegment>();
        // Templates that write the BOS text themselves would otherwise get a second BOS.
        if (facts.AddBos && facts.BosToken is int bos && !(facts.BosText is { Length: > 0 } b && text.StartsWith(b, StringComparison.Ordinal)))
            segments.Add(PromptSegment.Tokens(bos));
        segments.Add(PromptSegment.Text(text, parseSpecial: true));
        return segments;
    }

    public override IReadOnlyList<PromptSegment>? RenderFollowUp(string? systemPrompt, IReadOnlyList<ChatMessage> history,
        string openAnswer, IReadOnlyList<ChatMessage> newMessages)
    {
        Validate(newMessages);
        string before = Apply(systemPrompt, history) + openAnswer;
        string after = Apply(systemPrompt, [.. history, ChatMessage.Assistant(openAnswer), .. newMessages]);
        if (!after.StartsWith(before, StringComparison.Ordinal)) return null;   // e.g. the template trims answers
        return [PromptSegment.Text(after[before.Length..], parseSpecial: true)];
    }

    string Apply(string? systemPrompt, IReadOnlyList<ChatMessage> messages)
    {
        var chat = new LLamaTemplate(template) { AddAssistant = true };
        if (systemPrompt != null) chat.Add("system", systemPrompt);
        foreach (var m in messages) chat.Add(m.Role == ChatRole.User ? "user" : "assistant", m.Text);
        try
        {
            return LLamaTemplate.Encoding.GetString(chat.Apply());
        }
        catch (LLama.Exceptions.RuntimeError e)
        {
            throw new InvalidOperationException(
                $"llama.cpp cannot apply the GGUF chat template of {Path.GetFileName(facts.ModelPath)} (it only knows its " +
                "built-in formats); choose llava_v1 or vicuna_v1 instead", e);
        }
    }
}
