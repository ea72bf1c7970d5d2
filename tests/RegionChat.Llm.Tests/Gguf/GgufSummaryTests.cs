using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Gguf;

public class GgufSummaryTests
{
    [Fact]
    public void DescribesALlamaModel()
    {
        using var dir = new TempDir();
        var vocab = LlamaVocabulary.FromWords(["red", "bus"], 300);
        var shape = new LlamaShape(64, 3, 8, 2, 96, 300, 512, RopeFreqBase: 50000f);
        string path = dir.File("m.gguf");
        const string template = "{{ bos_token }}{% for m in messages %}\n…";
        LlamaGgufSynth.Write(path, shape, vocab, GgmlType.Q8_0, 1, new LlamaGgufOptions { ChatTemplate = template });
        using var f = GgufFile.Open(path);
        var d = GgufSummary.Describe(f).ToDictionary(l => l.Label, l => l.Value);
        Assert.Equal("llama", d["architecture"]);
        Assert.Equal("64", d["embedding"]);
        Assert.Equal("3", d["layers"]);
        Assert.Equal("8 (kv heads 2)", d["heads"]);
        Assert.Equal("96", d["feed-forward"]);
        Assert.Equal("512", d["context"]);
        Assert.Equal("base 50000, dims 8", d["rope"]);
        Assert.Equal("7 (mostly Q8_0)", d["file type"]);
        Assert.Equal("300 tokens, tokenizer llama, bos 1, eos 2, unk 0", d["vocab"]);
        Assert.Equal($"{template.Length} chars: {{{{ bos_token }}}}{{% for m in messages %}}", d["chat template"]); // first line only
        // 2-D weights: token_embd, output and 7 per block; norms: 2 per block and output_norm.
        Assert.Equal($"Q8_0 ×{2 + 7 * 3}, F32 ×{2 * 3 + 1}", d["tensor types"]);
        Assert.Contains(shape.ParameterCount.ToString("N0"), d["parameters"]);
    }
}
