using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>Follow-up turns reuse the sequence's KV cache and prefill only what is new.</summary>
public class FollowUpTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task AFollowUpPrefillsOnlyItsNewTokensAndAnswersAsAFullPromptWould()
    {
        using var engine = models.Load();
        var greedy = SamplingParams.Greedy(6) with { IgnoreEos = true };
        IReadOnlyList<PromptSegment> p1 = [PromptSegment.Tokens(1), PromptSegment.Text("look at"),
            PromptSegment.Embeddings(Blocks.Random(20, seed: 7)), PromptSegment.Text("what is it")];
        IReadOnlyList<PromptSegment> p2 = [PromptSegment.Text("and the dog")];

        using var session = engine.CreateSession(keepHistory: true);
        var first = (await Collected.From(engine.GenerateAsync(session, p1, greedy))).Final;
        Assert.Equal(FinishReason.Length, first.Reason);
        int promptLength = 1 + engine.Tokenize("look at").Length + 20 + engine.Tokenize("what is it").Length;
        Assert.Equal(promptLength, first.Usage.PromptTokens);
        // The last sampled token is decoded by the follow-up, so the cache holds one less than prompt + completion.
        Assert.Equal(promptLength + 6 - 1, first.Usage.SequenceTokens);
        Assert.Equal(first.Usage.SequenceTokens, session.CachedTokens);

        var second = await Collected.From(engine.GenerateAsync(session, p2, greedy));
        Assert.Equal(first.Usage.SequenceTokens, second.Final.Usage.CachedTokens);
        Assert.Equal(1 + engine.Tokenize("and the dog").Length, second.Final.Usage.NewPromptTokens);
        Assert.Equal(second.Final.Usage.NewPromptTokens, second.Final.Usage.PrefilledTokens);
        Assert.Equal(second.Final.Usage.CachedTokens + second.Final.Usage.NewPromptTokens, second.Final.Usage.PromptTokens);

        // The same tokens fed from scratch give the same answer.
        using var fresh = engine.CreateSession(keepHistory: false);
        var whole = await Collected.From(engine.GenerateAsync(fresh, [.. p1, PromptSegment.Tokens(first.OutputTokens), .. p2], greedy));
        Assert.Equal(whole.Final.OutputTokens, second.Final.OutputTokens);
        Assert.Equal(0, whole.Final.Usage.CachedTokens);
    }

    [Fact]
    public async Task AContinuedAnswerIsFedAfterTheOpeningAndRecordedWhole()
    {
        using var engine = models.Load();
        var template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        using var chat = new ChatSession(engine, template);
        var greedy = SamplingParams.Greedy(5) with { IgnoreEos = true };
        var image = Blocks.Random(16, seed: 9);

        var t1 = await Collected.From(chat.GenerateAsync([ChatMessage.User("what is this", image), ChatMessage.Assistant("It is")], greedy));
        // The prompt ends with the given start, left open: the same tokens as a prompt written out by hand.
        var prompt = chat.Turns[0].Prompt.SelectMany(p => p is TokenSegment t ? t.Ids : []).ToArray();
        var opened = engine.Tokenize("\nwhat is this ASSISTANT: It is", addBos: false);
        Assert.Equal(opened, prompt[^opened.Length..]);
        // The stream carries the continuation; the history and the record hold the whole answer, and no assistant
        // message among the turn's messages.
        Assert.Equal("It is" + t1.Text, chat.History[^1].Text);
        Assert.Equal("It is" + t1.Text, chat.Turns[0].Answer);
        Assert.Equal([ChatRole.User], chat.Turns[0].Messages.Select(m => m.Role));

        // A follow-up closes that whole answer; fed from scratch, the same conversation answers the same.
        var t2 = await Collected.From(chat.GenerateAsync(ChatMessage.User("and the color"), greedy));
        Assert.Equal(t1.Final.Usage.SequenceTokens, t2.Final.Usage.CachedTokens);
        using var restored = ChatSession.Restore(engine, template, null, chat.Turns.Take(1).ToArray());
        var again = await Collected.From(restored.GenerateAsync(ChatMessage.User("and the color"), greedy));
        Assert.Equal(t2.Final.OutputTokens, again.Final.OutputTokens);
    }

    [Fact]
    public async Task AChatFollowUpClosesTheAnswerWithEosAndAddsTheNextTurn()
    {
        using var engine = models.Load();
        var template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        using var chat = new ChatSession(engine, template);
        var greedy = SamplingParams.Greedy(5) with { IgnoreEos = true };
        var image = Blocks.Random(16, seed: 9);

        var t1 = await Collected.From(chat.GenerateAsync(ChatMessage.User("what is this", image), greedy));
        var t2 = await Collected.From(chat.GenerateAsync(ChatMessage.User("and the color"), greedy));
        Assert.Equal(t1.Final.Usage.SequenceTokens, t2.Final.Usage.CachedTokens);
        // previous answer's last token + </s> + "USER: and the color ASSISTANT:"
        int expected = 1 + 1 + engine.Tokenize("USER: and the color ASSISTANT:").Length;
        Assert.Equal(expected, t2.Final.Usage.NewPromptTokens);
        Assert.Equal(4, chat.History.Count);
        Assert.Equal(t1.Text, chat.History[1].Text);
        Assert.Equal(ChatRole.Assistant, chat.History[3].Role);

        // A turn cancelled before it started leaves the history as it was.
        using (var cts = new CancellationTokenSource())
        {
            await cts.CancelAsync();
            var early = await Collected.From(chat.GenerateAsync(ChatMessage.User("never mind"), greedy, cts.Token));
            Assert.Equal(FinishReason.Cancelled, early.Final.Reason);
            Assert.Equal(t2.Final.Usage.SequenceTokens, chat.Sequence.CachedTokens);
        }

        // A turn cancelled while prefilling frees the history; the next turn renders the whole conversation again.
        using (var cts = new CancellationTokenSource())
        {
            engine.Scheduler.StepObserver = _ => cts.Cancel();
            var late = await Collected.From(chat.GenerateAsync(ChatMessage.User("never mind"), greedy, cts.Token));
            engine.Scheduler.StepObserver = null;
            Assert.Equal(FinishReason.Cancelled, late.Final.Reason);
            Assert.Equal(LlmSessionState.Fresh, chat.Sequence.State);
        }
        Assert.Equal(4, chat.History.Count);
        var t3 = await Collected.From(chat.GenerateAsync(ChatMessage.User("one more"), greedy));
        Assert.Equal(0, t3.Final.Usage.CachedTokens);
        var whole = template.Render(null, [.. chat.History.Take(4), ChatMessage.User("one more")]);
        int wholeLength = whole.Sum(seg => seg switch
        {
            TextSegment t => engine.Tokenize(t.Value).Length,
            TokenSegment t => t.Ids.Count,
            EmbeddingSegment e => e.Block.Count,
            _ => throw new InvalidOperationException(),
        });
        Assert.Equal(wholeLength, t3.Final.Usage.NewPromptTokens);
        Assert.Equal(6, chat.History.Count);
    }

    [Fact]
    public async Task AGgufTemplateFollowUpSendsOnlyTheDifference()
    {
        const string chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
                              "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        using var engine = models.Load(chatTemplate: chatml);
        var template = ChatTemplate.Create(ChatTemplate.Gguf, engine.Facts);
        using var chat = new ChatSession(engine, template, "be brief");
        var greedy = SamplingParams.Greedy(4) with { IgnoreEos = true };
        var t1 = await Collected.From(chat.GenerateAsync(ChatMessage.User("hello"), greedy));
        var t2 = await Collected.From(chat.GenerateAsync(ChatMessage.User("again"), greedy));
        Assert.Equal(t1.Final.Usage.SequenceTokens, t2.Final.Usage.CachedTokens);
        int expected = 1 + engine.Tokenize("<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n", parseSpecial: true).Length;
        Assert.Equal(expected, t2.Final.Usage.NewPromptTokens);
    }
}
