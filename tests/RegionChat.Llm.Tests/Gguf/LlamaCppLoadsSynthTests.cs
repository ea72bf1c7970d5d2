using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Gguf;

/// <summary>The real llama.cpp (LLamaSharp 0.30.0) loads what the writer and synth produce, tokenizes and decodes.</summary>
public class LlamaCppLoadsSynthTests
{
    const string Sentence = "the cat sits on the red chair near a small dog";

    static LlamaShape TinyShape(LlamaVocabulary v, bool tied = false) =>
        new(EmbeddingLength: 64, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 128, VocabSize: v.Count, ContextLength: 256, TiedOutput: tied);

    [Theory]
    [InlineData(GgmlType.F32, false)]
    [InlineData(GgmlType.F16, true)]
    [InlineData(GgmlType.BF16, false)]
    [InlineData(GgmlType.Q8_0, false)]
    public void SynthesizedModelLoadsTokenizesAndDecodes(GgmlType type, bool tied)
    {
        using var dir = new TempDir();
        var vocab = LlamaVocabulary.BuiltInEnglish();
        var shape = TinyShape(vocab, tied);
        string path = dir.File("tiny.gguf");
        LlamaGgufSynth.Write(path, shape, vocab, type, seed: 7);

        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 256, GpuLayerCount = 0 });
        Assert.Equal(vocab.Count, weights.Vocab.Count);
        Assert.Equal(64, weights.EmbeddingSize);
        Assert.Equal(vocab.BosId, (int)weights.Vocab.BOS!.Value);
        Assert.Equal(vocab.EosId, (int)weights.Vocab.EOS!.Value);

        // Whole vocabulary words tokenize to their "▁word" pieces, after the BOS.
        var ids = weights.Tokenize(Sentence, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        Assert.Equal(new[] { vocab.BosId }.Concat(vocab.WordIds(Sentence)), ids);

        using var context = weights.CreateContext(new ModelParams(path) { ContextSize = 256, Threads = 2, BatchThreads = 2 });
        var tokens = weights.Tokenize(Sentence, false, false, Encoding.UTF8);
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, weights);
        decoder.AddRange(tokens);
        Assert.Equal(" " + Sentence, decoder.Read()); // SentencePiece: the first word's ▁ reads back as a space

        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var logits = context.NativeHandle.GetLogitsIth(tokens.Length - 1);
        Assert.Equal(vocab.Count, logits.Length);
        float max = float.MinValue, min = float.MaxValue;
        foreach (float l in logits)
        {
            Assert.True(float.IsFinite(l));
            max = Math.Max(max, l);
            min = Math.Min(min, l);
        }
        Assert.True(max - min > 1e-3f, "random weights should give logits that differ between tokens");
    }

    [Fact]
    public void WordsOutsideTheVocabularyFallBackToPiecesAndBytes()
    {
        using var dir = new TempDir();
        var vocab = LlamaVocabulary.FromWords(["cat", "dog"]);
        var shape = TinyShape(vocab);
        string path = dir.File("tiny.gguf");
        LlamaGgufSynth.Write(path, shape, vocab, GgmlType.F32, seed: 1);
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 64, VocabOnly = true });
        // "cab": longest known prefix "▁ca", then the byte token for 'b'.
        var ids = weights.Tokenize("cab dog", false, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        Assert.Equal(new[] { vocab.IdOf("▁ca"), vocab.ByteId((byte)'b'), vocab.IdOf("▁dog") }, ids);
    }
}
