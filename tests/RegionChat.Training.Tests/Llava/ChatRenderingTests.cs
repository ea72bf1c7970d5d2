using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Tests.Llava;

public class ChatRenderingTests
{
    const int Image = -1;   // where an image's rows go in a flattened sequence

    static readonly LlamaVocabulary Vocab = ShapesLlmVocabulary.Create();
    static readonly LlavaPromptRenderer Renderer = new(ShapesLlmVocabulary.Tokenizer(Vocab));

    /// <summary>A conversation with every turn kind: two regions of one scene, a follow-up, a relation question, then a
    /// new image shown whole and a follow-up about a region of it.</summary>
    static IReadOnlyList<LlavaChatTurn> Conversation()
    {
        var scene = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, 50).First(s => s.Objects.Count >= 2);
        var other = ShapesGenerator.Generate(ShapesSeeds.TestStart + 777);
        var (a, b) = (scene.Objects[0], scene.Objects[1]);
        return
        [
            new(LlavaSample.OfRegion(scene, a, RegionAlphaMode.Mask, a.Qa[0]), true),
            new(LlavaSample.OfRegion(scene, b, RegionAlphaMode.Box, b.Qa[1]), true),
            new(new LlavaSample(scene, b, RegionAlphaMode.Mask, ShapesChatText.WhatColour, ShapesChatText.FollowUpAnswer(ShapesChatText.WhatColour, b)), false),
            new(new LlavaSample(scene, b, RegionAlphaMode.Mask, ShapesChatText.LeftOf, ShapesChatText.RelationAnswer(ShapesChatText.LeftOf, b, a)), false),
            new(LlavaSample.Whole(other, other.Qa[0]), true),
            new(new LlavaSample(other, other.Objects[0], RegionAlphaMode.Mask, ShapesChatText.IsItLarge, ShapesChatText.FollowUpAnswer(ShapesChatText.IsItLarge, other.Objects[0])), false),
        ];
    }

    /// <summary>
    /// The engine's llava_v1 session rendering — the first turn by Render, every later one by RenderFollowUp after the
    /// answer the model generated — tokenised by llama.cpp itself, equals the training conversation's ids, with the
    /// images at the same places and exactly the answers and their EOS counted.
    /// </summary>
    [Fact]
    public void ConversationIdsEqualWhatTheEngineFeedsLlamaCppTurnByTurn()
    {
        using var dir = new TempDir();
        string gguf = dir.File("shapes.gguf");
        LlamaGgufSynth.Write(gguf, new LlamaShape(32, 1, 2, 2, 64, Vocab.Count, 1024), Vocab, GgmlType.F32, 3);
        using var engine = LlmEngine.Load(new LlmEngineOptions { ModelPath = gguf, ContextSize = 1024, BatchSize = 64, Threads = 1, BatchThreads = 1, MaxSequences = 1 });
        var template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        int eos = engine.Facts.EosToken!.Value;
        var image = new EmbeddingBlock(new float[5 * 32], 32);
        var turns = Conversation();

        var engineIds = new List<int>();
        var answerIds = new List<int>();
        var history = new List<ChatMessage>();
        for (int t = 0; t < turns.Count; t++)
        {
            var sample = turns[t].Sample;
            var message = ChatMessage.User(sample.Question, turns[t].ShowsImage ? image : null);
            var segments = t == 0
                ? template.Render(ShapesText.SystemLine, [message])
                : template.RenderFollowUp(ShapesText.SystemLine, history.Take(history.Count - 1).ToArray(), history[^1].Text, [message])!;
            if (t > 0) Assert.IsType<TokenSegment>(segments[0]);   // the open answer's EOS
            string? lastText = null;
            foreach (var segment in segments)
                switch (segment)
                {
                    case TokenSegment s: engineIds.AddRange(s.Ids.ToArray()); lastText = null; break;
                    case TextSegment s: engineIds.AddRange(engine.Tokenize(s.Value, addBos: false, s.ParseSpecial)); lastText = s.Value; break;
                    case EmbeddingSegment: engineIds.Add(Image); lastText = null; break;
                    default: throw new InvalidOperationException(segment.GetType().Name);
                }
            Assert.NotNull(lastText);
            Assert.EndsWith("ASSISTANT:", lastText);
            // The answer as the model must generate it: llama.cpp's tokens of the answer text after the turn's last piece.
            int[] piece = engine.Tokenize(lastText!, addBos: false);
            int[] full = engine.Tokenize(lastText + " " + sample.Answer, addBos: false);
            Assert.Equal(piece, full[..piece.Length]);
            int[] answer = [.. full[piece.Length..], eos];
            answerIds.AddRange(answer);
            engineIds.AddRange(full[piece.Length..]);
            history.Add(message);
            history.Add(ChatMessage.Assistant(sample.Answer));
        }
        engineIds.Add(eos);   // the last answer's end, which the next turn would open with

        var training = Renderer.RenderChat(turns);
        Assert.Equal(turns.Count(t => t.ShowsImage), training.Images);
        var trainingIds = new List<int>();
        var counted = new List<int>();
        for (int r = 0; r < training.Texts.Count; r++)
        {
            Assert.Equal(training.Texts[r].Length, training.Counted[r].Length);
            trainingIds.AddRange(training.Texts[r]);
            counted.AddRange(training.Texts[r].Where((_, i) => training.Counted[r][i]));
            if (r < training.Images) trainingIds.Add(Image);
        }
        Assert.Equal(engineIds, trainingIds);
        Assert.Equal(answerIds, counted);
        Assert.Equal(turns.Count, counted.Count(id => id == eos));
    }

    [Fact]
    public void FirstTurnIsTheSingleTurnPrompt()
    {
        var turns = Conversation();
        var single = Renderer.Render(turns[0].Sample.Question, turns[0].Sample.Answer);
        var chat = Renderer.RenderChat(turns.Take(1).ToArray());
        Assert.Equal(single.BeforeImage, chat.Texts[0]);
        Assert.Equal([.. single.AfterImage, .. single.Answer], chat.Texts[1]);
        Assert.Equal(single.Answer.Length, chat.Counted[1].Count(c => c));
        Assert.Throws<ArgumentException>(() => Renderer.RenderChat(turns.Skip(2).ToArray()));
    }

    [Fact]
    public void RelationAndFollowUpAnswersFollowTheSpec()
    {
        var scene = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, 200).First(s => s.Objects.Count >= 2
            && s.Objects[0].Size == ShapeSize.Small && s.Objects[1].Size == ShapeSize.Large);
        var (small, large) = (scene.Objects[0], scene.Objects[1]);
        Assert.Equal("yes", ShapesChatText.RelationAnswer(ShapesChatText.Bigger, large, small));
        Assert.Equal("no", ShapesChatText.RelationAnswer(ShapesChatText.Bigger, small, large));
        Assert.Equal("no", ShapesChatText.RelationAnswer(ShapesChatText.Bigger, large, large));   // equal sizes
        Assert.Equal("yes", ShapesChatText.RelationAnswer(ShapesChatText.SameColour, small, small));
        Assert.Equal(small.Color == large.Color ? "yes" : "no", ShapesChatText.RelationAnswer(ShapesChatText.SameColour, small, large));
        Assert.Equal(small.Shape == large.Shape ? "yes" : "no", ShapesChatText.RelationAnswer(ShapesChatText.SameShape, large, small));
        Assert.Equal("no", ShapesChatText.RelationAnswer(ShapesChatText.LeftOf, small, small));   // strictly left
        // Left compares the visible pixels' bounding-box centres, computed here from the mask directly.
        static double CentreX(ShapesObject o)
        {
            var xs = Enumerable.Range(0, o.VisibleMask.Length).Where(i => o.VisibleMask[i] != 0).Select(i => i % 64).ToList();
            return (xs.Min() + xs.Max() + 1) / 2.0;
        }
        Assert.Equal(CentreX(large) < CentreX(small) ? "yes" : "no", ShapesChatText.RelationAnswer(ShapesChatText.LeftOf, large, small));
        Assert.Equal(CentreX(small) < CentreX(large) ? "yes" : "no", ShapesChatText.RelationAnswer(ShapesChatText.LeftOf, small, large));
        Assert.Equal(large.Color.Word(), ShapesChatText.FollowUpAnswer(ShapesChatText.WhatColour, large));
        Assert.Equal(large.Shape.Word(), ShapesChatText.FollowUpAnswer(ShapesChatText.WhatShape, large));
        Assert.Equal("yes", ShapesChatText.FollowUpAnswer(ShapesChatText.IsItLarge, large));
        Assert.Equal("no", ShapesChatText.FollowUpAnswer(ShapesChatText.IsItLarge, small));
    }
}
