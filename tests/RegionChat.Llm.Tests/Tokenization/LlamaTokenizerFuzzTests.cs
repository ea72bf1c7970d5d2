using System.Text;
using LLama;
using LLama.Common;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Tokenization;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Tokenization;

/// <summary>
/// Random vocabularies with pieces anywhere in words (not just prefixes), tied scores and a user-defined token, written
/// straight with the GGUF writer; random texts over their alphabet must tokenize exactly as llama.cpp does.
/// </summary>
public class LlamaTokenizerFuzzTests
{
    const string Alphabet = "abcé ";

    static (string[] Tokens, float[] Scores, LlamaTokenType[] Types) RandomVocabulary(Random random)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<LlamaTokenType> { LlamaTokenType.Unknown, LlamaTokenType.Control, LlamaTokenType.Control };
        for (int b = 0; b < 256; b++) { tokens.Add(LlamaVocabulary.ByteToken((byte)b)); types.Add(LlamaTokenType.Byte); }
        tokens.Add("<img>");
        types.Add(LlamaTokenType.UserDefined);
        var pieces = new HashSet<string>(StringComparer.Ordinal);
        string letters = "▁abcé";
        foreach (char c in letters) if (c != 'é' || random.Next(2) == 0) pieces.Add(c.ToString()); // sometimes é falls back to bytes
        while (pieces.Count < 60)
        {
            int length = random.Next(2, 5);
            pieces.Add(new string(Enumerable.Range(0, length).Select(_ => letters[random.Next(letters.Length)]).ToArray()));
        }
        foreach (var p in pieces) { tokens.Add(p); types.Add(LlamaTokenType.Normal); }
        // Few distinct scores, so ties (broken leftmost) are common.
        var scores = tokens.Select((_, i) => i < 260 ? 0f : -random.Next(4)).ToArray();
        return (tokens.ToArray(), scores, types.ToArray());
    }

    static void WriteVocabularyGguf(string path, string[] tokens, float[] scores, LlamaTokenType[] types)
    {
        var shape = new LlamaShape(EmbeddingLength: 32, Layers: 1, Heads: 2, KvHeads: 2, FeedForward: 32, VocabSize: tokens.Length, ContextLength: 64);
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.AddUInt32("llama.context_length", 64);
        w.AddUInt32("llama.embedding_length", 32);
        w.AddUInt32("llama.block_count", 1);
        w.AddUInt32("llama.feed_forward_length", 32);
        w.AddUInt32("llama.attention.head_count", 2);
        w.AddFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.AddString("tokenizer.ggml.model", "llama");
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(tokens));
        w.Add("tokenizer.ggml.scores", GgufValue.Array(scores));
        w.Add("tokenizer.ggml.token_type", GgufValue.Array(types.Select(t => (int)t).ToArray()));
        foreach (var spec in shape.Tensors()) w.AddTensor(spec.Name, spec.Ne, GgmlType.F32, new float[spec.ElementCount]);
        w.Write(path);
    }

    [Fact]
    public void RandomVocabulariesAndTextsTokenizeAsInLlamaCpp()
    {
        using var dir = new TempDir();
        var random = new Random(2024);
        int compared = 0, withBytes = 0;
        for (int v = 0; v < 4; v++)
        {
            var (tokens, scores, types) = RandomVocabulary(random);
            string path = dir.File($"v{v}.gguf");
            WriteVocabularyGguf(path, tokens, scores, types);
            var tokenizer = LlamaTokenizer.FromGguf(path);
            using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 64, VocabOnly = true, GpuLayerCount = 0 });
            for (int t = 0; t < 50; t++)
            {
                string text = new(Enumerable.Range(0, random.Next(0, 24)).Select(_ => Alphabet[random.Next(Alphabet.Length)]).ToArray());
                if (random.Next(4) == 0) text = text.Insert(random.Next(text.Length + 1), "<img>");
                int[] expected = weights.Tokenize(text, true, false, Encoding.UTF8).Select(x => (int)x).ToArray();
                int[] actual = tokenizer.Encode(text, addBos: true);
                Assert.True(expected.SequenceEqual(actual),
                    $"'{text}': llama.cpp [{string.Join(" ", expected.Select(i => tokens[i]))}] vs [{string.Join(" ", actual.Select(i => tokens[i]))}]");
                if (actual.Any(i => types[i] == LlamaTokenType.Byte)) withBytes++;
                compared++;
            }
        }
        Assert.Equal(200, compared);
        Assert.True(withBytes > 0, "no text needed byte fallback; the fuzz vocabulary should sometimes lack é");
    }
}
