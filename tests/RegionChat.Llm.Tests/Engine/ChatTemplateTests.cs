using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

public class ChatTemplateTests(TinyModels models) : IClassFixture<TinyModels>
{
    // FACTS.md §2: LLaVA-1.5 conv_llava_v1.
    const string LlavaSystem = "A chat between a curious human and an artificial intelligence assistant. " +
                               "The assistant gives helpful, detailed, and polite answers to the human's questions.";
    const string VicunaSystem = "A chat between a curious user and an artificial intelligence assistant. " +
                                "The assistant gives helpful, detailed, and polite answers to the user's questions.";

    static LlmModelFacts Facts(string? template = null) => new()
    {
        ModelPath = "/m/model.gguf", Description = "", EmbeddingWidth = 8, VocabSize = 100, LayerCount = 1,
        TrainContextLength = 64, ContextSize = 64, BatchSize = 8, MaxSequences = 1, BosToken = 1, EosToken = 2,
        AddBos = true, BosText = "<s>", ChatTemplate = template,
    };

    static readonly EmbeddingBlock Image = new(new float[3 * 8], 8);

    [Fact]
    public void LlavaV1PutsTheImageAtTheStartOfTheQuestion()
    {
        var t = ChatTemplate.Create(ChatTemplate.LlavaV1, Facts());
        Assert.Equal(LlavaSystem, t.DefaultSystemPrompt);
        var segments = t.Render(null, [ChatMessage.User("What is this?", Image)]);
        Assert.Equal<PromptSegment>([
            PromptSegment.Tokens(1),
            PromptSegment.Text(LlavaSystem + " USER: "),
            PromptSegment.Embeddings(Image),
            PromptSegment.Text("\nWhat is this? ASSISTANT:"),
        ], segments, new SegmentComparer());
    }

    [Fact]
    public void EarlierAnswersEndWithEosAndAFollowUpStartsWithIt()
    {
        var t = ChatTemplate.Create(ChatTemplate.VicunaV1, Facts());
        var segments = t.Render(null, [ChatMessage.User("hi"), ChatMessage.Assistant("hello"), ChatMessage.User("bye")]);
        Assert.Equal<PromptSegment>([
            PromptSegment.Tokens(1),
            PromptSegment.Text(VicunaSystem + " USER: hi ASSISTANT: hello"),
            PromptSegment.Tokens(2),
            PromptSegment.Text("USER: bye ASSISTANT:"),
        ], segments, new SegmentComparer());

        var follow = t.RenderFollowUp(null, [ChatMessage.User("hi")], "hello", [ChatMessage.User("bye")]);
        Assert.Equal<PromptSegment>([PromptSegment.Tokens(2), PromptSegment.Text("USER: bye ASSISTANT:")], follow!, new SegmentComparer());
    }

    [Fact]
    public void AnAnswerToContinueIsLeftOpen()
    {
        var t = ChatTemplate.Create(ChatTemplate.VicunaV1, Facts());
        Assert.True(t.ContinuesAnswers);
        var segments = t.Render(null, [ChatMessage.User("hi"), ChatMessage.Assistant("Hello,")]);
        Assert.Equal<PromptSegment>([
            PromptSegment.Tokens(1),
            PromptSegment.Text(VicunaSystem + " USER: hi ASSISTANT: Hello,"),
        ], segments, new SegmentComparer());

        var follow = t.RenderFollowUp(null, [ChatMessage.User("hi")], "hello", [ChatMessage.User("bye"), ChatMessage.Assistant("Bye")]);
        Assert.Equal<PromptSegment>([PromptSegment.Tokens(2), PromptSegment.Text("USER: bye ASSISTANT: Bye")], follow!, new SegmentComparer());
    }

    [Fact]
    public void TheGgufTemplateCannotContinueAnAnswer()
    {
        var t = ChatTemplate.Create(ChatTemplate.Gguf, Facts("{{ messages }}"));
        Assert.False(t.ContinuesAnswers);
        var e = Assert.Throws<ArgumentException>(() => t.Render(null, [ChatMessage.User("q"), ChatMessage.Assistant("a")]));
        Assert.Contains("cannot continue an answer", e.Message);
    }

    [Fact]
    public void BadConversationsAreRejected()
    {
        var t = ChatTemplate.Create(ChatTemplate.LlavaV1, Facts());
        Assert.Throws<ArgumentException>(() => t.Render(null, []));
        Assert.Throws<ArgumentException>(() => t.Render(null, [ChatMessage.Assistant("a")]));          // an answer to nothing
        Assert.Throws<ArgumentException>(() => t.Render(null, [ChatMessage.User("q"), ChatMessage.Assistant("a"), ChatMessage.Assistant("b")]));
        Assert.Throws<ArgumentException>(() => t.Render(null, [new ChatMessage(ChatRole.Assistant, "a", Image), ChatMessage.User("q")]));
        Assert.Throws<ArgumentException>(() => ChatTemplate.Create("alpaca", Facts()));
    }

    [Fact]
    public void TheGgufTemplateNeedsOneInTheFile()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ChatTemplate.Create(ChatTemplate.Gguf, Facts()));
        Assert.Contains("model.gguf", e.Message);
        Assert.Contains("chat_template", e.Message);
    }

    [Fact]
    public void TheGgufTemplateIsAppliedByLlamaCpp()
    {
        const string chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
        var t = ChatTemplate.Create(ChatTemplate.Gguf, Facts(chatml));
        var segments = t.Render("sys", [ChatMessage.User("hi")]);
        Assert.Equal<PromptSegment>([
            PromptSegment.Tokens(1),
            PromptSegment.Text("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", parseSpecial: true),
        ], segments, new SegmentComparer());
        var follow = t.RenderFollowUp("sys", [ChatMessage.User("hi")], "yo", [ChatMessage.User("more")]);
        Assert.Equal<PromptSegment>([
            PromptSegment.Text("<|im_end|>\n<|im_start|>user\nmore<|im_end|>\n<|im_start|>assistant\n", parseSpecial: true),
        ], follow!, new SegmentComparer());
        Assert.Throws<ArgumentException>(() => t.Render(null, [ChatMessage.User("look", Image)]));
    }

    [Fact]
    public void AGgufTemplateLlamaCppDoesNotKnowIsAClearError()
    {
        var t = ChatTemplate.Create(ChatTemplate.Gguf, Facts("{{ something nobody knows }}"));
        var e = Assert.Throws<InvalidOperationException>(() => t.Render(null, [ChatMessage.User("hi")]));
        Assert.Contains("llava_v1", e.Message);
    }

    [Fact]
    public void RenderedPromptsTokeniseWithBosOnlyAtTheStart()
    {
        using var engine = models.Load();
        var t = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        var segments = t.Render(null, [ChatMessage.User("what", Blocks.Random(2, 1))]);
        var first = engine.Tokenize(((TextSegment)segments[1]).Value);
        Assert.DoesNotContain(engine.Facts.BosToken!.Value, first);
        Assert.Equal(engine.Facts.BosToken, ((TokenSegment)segments[0]).Ids.Single());
    }

    sealed class SegmentComparer : IEqualityComparer<PromptSegment>
    {
        public bool Equals(PromptSegment? a, PromptSegment? b) => (a, b) switch
        {
            (TokenSegment x, TokenSegment y) => x.Ids.SequenceEqual(y.Ids),
            (TextSegment x, TextSegment y) => x == y,
            (EmbeddingSegment x, EmbeddingSegment y) => ReferenceEquals(x.Block, y.Block),
            _ => false,
        };

        public int GetHashCode(PromptSegment s) => 0;
    }
}
