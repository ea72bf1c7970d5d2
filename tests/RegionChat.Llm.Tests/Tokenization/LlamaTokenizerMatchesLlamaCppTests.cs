using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Tokenization;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Tokenization;

/// <summary>The tokenizer gives the ids and text real llama.cpp (LLamaSharp 0.30.0) gives for the same GGUF vocabulary.</summary>
public sealed class LlamaTokenizerMatchesLlamaCppTests : IDisposable
{
    static readonly string[] Sentences =
    [
        "the cat sits on the red chair near a small dog",
        "",
        " ",
        "zebra   giraffe  ",
        "   leading spaces and trailing ",
        "hello world!",
        "an xylophone is unknownword here",
        "café naïve 東京 😀 ok",
        "line one\nline two\ttab",
        "<s> looks special but is plain text </s>",
        "thethethe catcat",
        "déjà vu",
    ];

    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    // The built-in English words plus words with multi-byte characters, so merges cross UTF-8 sequences.
    static LlamaVocabulary MakeVocabulary() =>
        LlamaVocabulary.FromWords(BuiltInWords.English.Concat(["café", "naïve", "東京", "déjà", "😀x"]));

    string WriteModel(LlamaVocabulary vocabulary)
    {
        string path = dir.File("vocab.gguf");
        var shape = new LlamaShape(EmbeddingLength: 32, Layers: 1, Heads: 2, KvHeads: 2, FeedForward: 32, VocabSize: vocabulary.Count, ContextLength: 64);
        LlamaGgufSynth.Write(path, shape, vocabulary, GgmlType.F32, seed: 1);
        return path;
    }

    static LLamaWeights LoadVocabOnly(string path) =>
        LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 64, VocabOnly = true, GpuLayerCount = 0 });

    static byte[] LlamaCppDetokenize(LLamaWeights weights, IReadOnlyList<int> ids)
    {
        // llama_detokenize(remove_special: false, unparse_special: false) is token_to_piece per token, lstrip 1 on the first.
        var bytes = new List<byte>();
        var buffer = new byte[256];
        for (int i = 0; i < ids.Count; i++)
        {
            int n = NativeApi.llama_token_to_piece(weights.Vocab, (LLamaToken)ids[i], buffer, i == 0 ? 1 : 0, false);
            Assert.True(n >= 0, "piece longer than the buffer");
            bytes.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        return bytes.ToArray();
    }

    [Fact]
    public void EncodeGivesLlamaCppsIdsWithAndWithoutBos()
    {
        var vocabulary = MakeVocabulary();
        string path = WriteModel(vocabulary);
        var tokenizer = LlamaTokenizer.FromGguf(path);
        Assert.Equal(vocabulary.Count, tokenizer.Count);
        using var weights = LoadVocabOnly(path);
        int checkedTexts = 0;
        foreach (string text in Sentences)
            foreach (bool bos in new[] { true, false })
            {
                int[] expected = weights.Tokenize(text, bos, false, Encoding.UTF8).Select(t => (int)t).ToArray();
                Assert.Equal(expected, tokenizer.Encode(text, addBos: bos));
                checkedTexts++;
            }
        Assert.Equal(2 * Sentences.Length, checkedTexts);
        // The sentences do exercise byte fallback: '!' and the emoji are no pieces of this vocabulary.
        Assert.Contains(vocabulary.ByteId((byte)'!'), tokenizer.Encode("hello world!"));
    }

    [Fact]
    public void DecodeGivesLlamaCppsBytesAndRoundTripsText()
    {
        var vocabulary = MakeVocabulary();
        string path = WriteModel(vocabulary);
        var tokenizer = LlamaTokenizer.FromVocabulary(vocabulary);
        using var weights = LoadVocabOnly(path);
        foreach (string text in Sentences)
        {
            int[] ids = tokenizer.Encode(text, addBos: false);
            Assert.Equal(text, tokenizer.Decode(ids));
            Assert.Equal(LlamaCppDetokenize(weights, ids), tokenizer.DecodeBytes(ids));
            int[] withBos = tokenizer.Encode(text, addBos: true);
            Assert.Equal(LlamaCppDetokenize(weights, withBos), tokenizer.DecodeBytes(withBos));
        }

        // Arbitrary id sequences too: control tokens, stray byte tokens (invalid UTF-8 on their own), plain pieces.
        var random = new Random(5);
        for (int trial = 0; trial < 20; trial++)
        {
            int[] ids = Enumerable.Range(0, 12).Select(_ => random.Next(vocabulary.Count)).ToArray();
            Assert.Equal(LlamaCppDetokenize(weights, ids), tokenizer.DecodeBytes(ids));
        }
    }
}
