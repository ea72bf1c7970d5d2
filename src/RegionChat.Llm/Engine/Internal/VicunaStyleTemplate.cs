using System.Text;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// LLaVA's conv_llava_v1 / conv_vicuna_v1 (separator style TWO): "{system} USER: {q} ASSISTANT: {a}&lt;/s&gt;USER: …
/// ASSISTANT:". A user turn with an image reads "&lt;image&gt;\n{q}" and the image's rows replace "&lt;image&gt;". Like
/// LLaVA, the text between images is tokenised piece by piece; "&lt;/s&gt;" is the EOS token itself.
/// </summary>
internal sealed class VicunaStyleTemplate(string name, string system, LlmModelFacts facts) : ChatTemplate
{
    public const string LlavaSystem = "A chat between a curious human and an artificial intelligence assistant. " +
                                      "The assistant gives helpful, detailed, and polite answers to the human's questions.";
    public const string VicunaSystem = "A chat between a curious user and an artificial intelligence assistant. " +
                                       "The assistant gives helpful, detailed, and polite answers to the user's questions.";

    readonly int eos = facts.EosToken ?? throw new InvalidDataException(
        $"template {name} closes answers with EOS (</s>), but {Path.GetFileName(facts.ModelPath)} has no EOS token");

    public override string Name => name;
    public override bool ContinuesAnswers => true;
    public override string? DefaultSystemPrompt => system;

    public override IReadOnlyList<PromptSegment> Render(string? systemPrompt, IReadOnlyList<ChatMessage> messages)
    {
        Validate(messages);
        var output = new SegmentBuilder();
        if (facts.AddBos && facts.BosToken is int bos) output.Token(bos);
        output.Text((systemPrompt ?? system) + " ");
        AppendTurns(output, messages);
        return output.Build();
    }

    public override IReadOnlyList<PromptSegment> RenderFollowUp(string? systemPrompt, IReadOnlyList<ChatMessage> history,
        string openAnswer, IReadOnlyList<ChatMessage> newMessages)
    {
        Validate(newMessages);
        var output = new SegmentBuilder();
        output.Token(eos);                                  // the open answer's "</s>"
        AppendTurns(output, newMessages);
        return output.Build();
    }

    void AppendTurns(SegmentBuilder output, IReadOnlyList<ChatMessage> messages)
    {
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (i == messages.Count - 1 && m.Role == ChatRole.Assistant)
            {
                output.Text("ASSISTANT: " + m.Text); // an answer to continue: left open
                return;
            }
            if (m.Role == ChatRole.User)
            {
                output.Text("USER: ");
                if (m.Image != null)
                {
                    output.Embeddings(m.Image);
                    output.Text("\n");
                }
                output.Text(m.Text + " ");
            }
            else
            {
                output.Text("ASSISTANT: " + m.Text);
                output.Token(eos);
            }
        }
        output.Text("ASSISTANT:");
    }
}

/// <summary>Collects segments, merging adjacent text so each text piece is tokenised in one go.</summary>
internal sealed class SegmentBuilder
{
    readonly List<PromptSegment> segments = [];
    readonly StringBuilder text = new();

    public void Text(string text) => this.text.Append(text);

    public void Token(int id)
    {
        FlushText();
        segments.Add(PromptSegment.Tokens(id));
    }

    public void Embeddings(EmbeddingBlock block)
    {
        FlushText();
        segments.Add(PromptSegment.Embeddings(block));
    }

    public IReadOnlyList<PromptSegment> Build()
    {
        FlushText();
        return segments.ToArray();
    }

    void FlushText()
    {
        if (text.Length > 0) segments.Add(PromptSegment.Text(text.ToString()));
        text.Clear();
    }
}
