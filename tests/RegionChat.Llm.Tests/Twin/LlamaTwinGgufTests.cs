using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;
using TorchSharp;

namespace RegionChat.Llm.Tests.Twin;

/// <summary>GGUF load/save of the twin without llama.cpp: encodings, shape mapping, refusal of files it cannot run.</summary>
public sealed class LlamaTwinGgufTests : IDisposable
{
    static readonly LlamaVocabulary Vocab = LlamaVocabulary.FromWords(["cat", "dog", "red", "chair"]);
    static readonly LlamaShape Shape = new(EmbeddingLength: 64, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 96, VocabSize: Vocab.Count,
        ContextLength: 128, RopeFreqBase: 20000f, RmsEps: 3e-6f);

    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(GgmlType.F16, 1e-3)]   // 10-bit mantissa: relative error ≤ 2^-11
    [InlineData(GgmlType.BF16, 8e-3)]  // 7-bit mantissa: relative error ≤ 2^-8
    [InlineData(GgmlType.Q8_0, 1e-2)]  // one scale per 32 values, 8-bit codes: error ≤ max|block| / 254
    public void SavedWeightsComeBackWithinTheEncodingsPrecision(GgmlType type, double relativeTolerance)
    {
        using var twin = new LlamaTwin(Shape, seed: 8);
        string path = dir.File($"t-{type}.gguf");
        twin.SaveGguf(path, Vocab, type);
        using var back = LlamaTwin.FromGguf(path);
        Assert.Equal(Shape, back.Shape);
        var original = twin.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in back.named_parameters())
        {
            var o = original[name];
            Assert.Equal(o.shape, p.shape);
            double scale = o.abs().max().item<float>();
            double err = (p - o).abs().max().item<float>();
            // Norms are always written as F32.
            double limit = name.EndsWith("_norm.weight", StringComparison.Ordinal) ? 0 : relativeTolerance * scale;
            Assert.True(err <= limit, $"{name}: max error {err} > {limit}");
        }
        using var file = GgufFile.Open(path);
        Assert.Equal(type, file.GetTensorInfo("blk.0.attn_k.weight").Type);
        Assert.Equal(new long[] { 64, 32 }, file.GetTensorInfo("blk.0.attn_k.weight").Ne);
        Assert.Equal(3e-6f, file.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
    }

    [Fact]
    public void TensorsLargerThanOneReadSliceRoundTripExactly()
    {
        // token_embd and output are 1139 × 1024 floats, more than the 4 MB slices the loader reads at a time.
        var vocab = LlamaVocabulary.BuiltInEnglish();
        var wide = new LlamaShape(EmbeddingLength: 1024, Layers: 1, Heads: 8, KvHeads: 2, FeedForward: 64, VocabSize: vocab.Count, ContextLength: 64);
        using var twin = new LlamaTwin(wide, seed: 9);
        string path = dir.File("wide.gguf");
        twin.SaveGguf(path, vocab, GgmlType.F32);
        using var back = LlamaTwin.FromGguf(path);
        var original = twin.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in back.named_parameters())
            Assert.True((p - original[name]).abs().max().item<float>() == 0f, $"{name} changed");
    }

    [Fact]
    public void TensorsLoadIntoTorchShapesWithRowsIntact()
    {
        // ne = [in, out] becomes torch [out, in]; row r of the GGUF data is row r of the torch tensor.
        string path = dir.File("synth.gguf");
        LlamaGgufSynth.Write(path, Shape, Vocab, GgmlType.F32, seed: 2);
        using var twin = LlamaTwin.FromGguf(path);
        var ffnDown = twin.named_parameters().Single(p => p.name == "blk.1.ffn_down.weight").parameter;
        Assert.Equal(new long[] { 64, 96 }, ffnDown.shape);
        var spec = Shape.Tensors().Single(t => t.Name == "blk.1.ffn_down.weight");
        float[] expected = LlamaGgufSynth.Generate(Shape, spec, seed: 2);
        Assert.Equal(expected, ffnDown.data<float>().ToArray());
    }

    [Fact]
    public void FilesTheTwinCannotRunAreRefusedWithTheReason()
    {
        string Write(string name, Action<GgufWriter> tensors, LlamaShape? shape = null)
        {
            string path = dir.File(name);
            var w = LlamaGgufWriter.Create(shape ?? Shape, Vocab, GgmlType.F32);
            tensors(w);
            w.Write(path);
            return path;
        }
        void AllBut(GgufWriter w, string skip, Func<LlamaTensorSpec, long[]>? neOf = null)
        {
            foreach (var s in Shape.Tensors())
                if (s.Name != skip)
                {
                    long[] ne = neOf?.Invoke(s) ?? s.Ne;
                    w.AddTensor(s.Name, ne, GgmlType.F32, new float[ne.Aggregate(1L, (a, b) => a * b)]);
                }
        }

        var missing = Write("missing.gguf", w => AllBut(w, "blk.1.ffn_up.weight"));
        Assert.Contains("blk.1.ffn_up.weight' is missing", Assert.Throws<GgufFormatException>(() => LlamaTwin.FromGguf(missing)).Message);

        var wrongShape = Write("shape.gguf", w => AllBut(w, "", s => s.Name == "blk.0.attn_k.weight" ? [64, 64] : s.Ne));
        Assert.Contains("blk.0.attn_k.weight' has ne [64, 64]", Assert.Throws<GgufFormatException>(() => LlamaTwin.FromGguf(wrongShape)).Message);

        var extra = Write("extra.gguf", w => { AllBut(w, ""); w.AddTensor("blk.0.attn_q.bias", [64], GgmlType.F32, new float[64]); });
        Assert.Contains("attn_q.bias", Assert.Throws<GgufFormatException>(() => LlamaTwin.FromGguf(extra)).Message);

        string other = dir.File("gpt2.gguf");
        var g = new GgufWriter();
        g.AddString("general.architecture", "gpt2");
        g.Write(other);
        Assert.Contains("not llama", Assert.Throws<GgufFormatException>(() => LlamaTwin.FromGguf(other)).Message);

        string typed = dir.File("typed.gguf");
        var t = new GgufWriter();
        t.AddString("general.architecture", "llama");
        t.AddString("llama.attention.head_count", "four");
        t.AddTensor("token_embd.weight", [64, Vocab.Count], GgmlType.F32, new float[64 * Vocab.Count]);
        t.Write(typed);
        Assert.Contains("head_count", Assert.Throws<GgufFormatException>(() => LlamaTwin.FromGguf(typed)).Message);

        Assert.Throws<FileNotFoundException>(() => LlamaTwin.FromGguf(dir.File("absent.gguf")));
        Assert.Contains("tokens", Assert.Throws<ArgumentException>(() => new LlamaTwin(Shape).SaveGguf(dir.File("x.gguf"), LlamaVocabulary.BuiltInEnglish())).Message);
    }
}
