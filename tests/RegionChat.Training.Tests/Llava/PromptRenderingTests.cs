using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;
using RegionChat.Training.Llava;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Tests.Llava;

public class PromptRenderingTests
{
    static readonly LlamaVocabulary Vocab = ShapesLlmVocabulary.Create();
    static readonly LlavaPromptRenderer Renderer = new(ShapesLlmVocabulary.Tokenizer(Vocab));

    static int Word(string w) => Vocab.IdOf(LlamaVocabulary.WordBoundary + w);

    [Fact]
    public void EveryWordOfTheWorldIsOnePiece()
    {
        var tokenizer = ShapesLlmVocabulary.Tokenizer(Vocab);
        var texts = ShapesCorpus.AllRegionQa().SelectMany(qa => new[] { qa.Question, qa.Answer })
            .Concat(ShapesText.ImageQuestions).Concat(ShapesText.CountWords)
            .Append(ShapesText.SystemLine + " USER:").Append("ASSISTANT:")
            .Append("a large red circle a small blue square and a large green triangle");
        foreach (string text in texts)
        {
            var words = text.Split(' ');
            Assert.Equal(words.Select(Word), tokenizer.Encode(text, addBos: false));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, addBos: false)));
        }
    }

    [Fact]
    public void PromptIsBosSystemImageQuestionAnswerEos()
    {
        var s = Renderer.Render(ShapesText.WhatColor, "red");
        Assert.Equal([Vocab.BosId, Word("a"), Word("chat"), Word("about"), Word("shapes"), Word("USER:"), Vocab.IdOf("▁")], s.BeforeImage);
        // "\nwhat color is it? ASSISTANT:": llama.cpp's space prefix "▁", the newline and the first word as bytes
        // (no vocabulary piece starts without "▁"), then whole words.
        int[] expectedAfter = [Vocab.IdOf("▁"), Vocab.ByteId((byte)'\n'), .. "what".Select(c => Vocab.ByteId((byte)c)),
            Word("color"), Word("is"), Word("it?"), Word("ASSISTANT:")];
        Assert.Equal(expectedAfter, s.AfterImage);
        Assert.Equal([Word("red"), Vocab.EosId], s.Answer);
        Assert.Equal(Renderer.Prompt(ShapesText.WhatColor).AfterImage, s.AfterImage);
    }

    /// <summary>The engine's llava_v1 rendering, tokenised by llama.cpp itself, equals the training ids.</summary>
    [Fact]
    public void TrainingIdsEqualWhatTheEngineFeedsLlamaCpp()
    {
        using var dir = new TempDir();
        string gguf = dir.File("shapes.gguf");
        LlamaGgufSynth.Write(gguf, new LlamaShape(32, 1, 2, 2, 64, Vocab.Count, 256), Vocab, GgmlType.F32, 3);
        using var engine = LlmEngine.Load(new LlmEngineOptions { ModelPath = gguf, ContextSize = 256, BatchSize = 64, Threads = 1, BatchThreads = 1, MaxSequences = 1 });
        var template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
        var image = new EmbeddingBlock(new float[5 * 32], 32);
        foreach (var (question, answer) in new[] { (ShapesText.DescribeRegion, "a small orange cross"), (ShapesText.HowMany, "three"),
                     (ShapesText.DescribeImage, "a large red circle and a small blue square"), (ShapesText.SmallOrLarge, "large") })
        {
            var segments = template.Render(ShapesText.SystemLine, [ChatMessage.User(question, image)]);
            var before = new List<int>();
            var after = new List<int>();
            bool seenImage = false;
            foreach (var segment in segments)
            {
                var ids = segment switch
                {
                    TokenSegment t => t.Ids.ToArray(),
                    TextSegment t => engine.Tokenize(t.Value, addBos: false, t.ParseSpecial),
                    EmbeddingSegment => null,
                    _ => throw new InvalidOperationException(segment.GetType().Name),
                };
                if (ids is null) seenImage = true;
                else (seenImage ? after : before).AddRange(ids);
            }
            Assert.True(seenImage);
            var training = Renderer.Render(question, answer);
            Assert.Equal(before, training.BeforeImage);
            Assert.Equal(after, training.AfterImage);
            // The answer as the model must generate it: llama.cpp's tokens of the answer text after the prompt, then EOS.
            var full = engine.Tokenize("\n" + question + " ASSISTANT: " + answer);
            Assert.Equal([.. full[after.Count..], engine.Facts.EosToken!.Value], training.Answer);
        }
    }
}
