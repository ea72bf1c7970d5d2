using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Gguf;

/// <summary>llama.cpp's own code as the independent judge of our encoding: its quantiser, its metadata reader, its loader.</summary>
public class LlamaCppAgreesTests
{
    static readonly LlamaVocabulary Vocab = LlamaVocabulary.FromWords(["the", "cat", "sat", "on", "mat"]);

    static LlamaShape Shape(bool tied = false) => new(64, 2, 4, 2, 128, Vocab.Count, ContextLength: 128, TiedOutput: tied);

    [Fact]
    public void OurQ8_0EqualsLlamaCppQuantizerBitForBit()
    {
        using var dir = new TempDir();
        var shape = Shape();
        string src = dir.File("f32.gguf"), dst = dir.File("q8.gguf");
        var weights = shape.Tensors().ToDictionary(t => t.Name, t => LlamaGgufSynth.Generate(shape, t, 11));
        // Rounding corner cases in the first blocks of one weight: amax 127 makes d = 1, so x·(1/d) hits exact ties.
        var q = weights["blk.0.attn_q.weight"];
        float[] corner = [127f, 0.5f, 1.5f, -2.5f, -0.5f, 2.4999998f, -126.5f, 63.5f];
        corner.CopyTo(q, 0);
        Array.Clear(q, 32, 32);                       // an all-zero block (d = 0)
        for (int i = 64; i < 96; i++) q[i] = 1e-6f * (i - 80); // tiny values
        LlamaGgufWriter.Write(src, shape, Vocab, weights, GgmlType.F32);

        NativeApi.llama_empty_call(); // LLamaQuantizer as the first native call cannot find the library
        Assert.True(LLamaQuantizer.Quantize(src, dst, LLamaFtype.MOSTLY_Q8_0, nthread: 2, allowRequantize: true, quantizeOutputTensor: true));

        using var ours = GgufFile.Open(src);
        using var theirs = GgufFile.Open(dst);
        int compared = 0;
        foreach (var spec in shape.Tensors())
        {
            var info = theirs.GetTensorInfo(spec.Name);
            if (spec.IsNorm)
            {
                Assert.Equal(GgmlType.F32, info.Type); // 1-D norms stay f32
                continue;
            }
            Assert.Equal(GgmlType.Q8_0, info.Type);
            var floats = ours.ReadTensor(spec.Name);
            var mine = new byte[GgmlTypeInfo.RowBytes(GgmlType.Q8_0, floats.Length)];
            GgmlCodec.QuantizeQ8_0(floats, mine);
            Assert.Equal(mine, theirs.ReadTensorBytes(spec.Name));
            var deq = new float[floats.Length];
            GgmlCodec.DequantizeQ8_0(mine, deq);
            Assert.Equal(deq, theirs.ReadTensor(spec.Name));
            compared++;
        }
        Assert.Equal(shape.Tensors().Count(t => !t.IsNorm), compared);
    }

    [Fact]
    public void LlamaCppReadsEveryMetadataTypeAsWritten()
    {
        using var dir = new TempDir();
        string path = dir.File("meta.gguf");
        LlamaGgufSynth.Write(path, Shape(), Vocab, GgmlType.F32, 3, new LlamaGgufOptions
        {
            ExtraMetadata = w =>
            {
                w.Add("test.u8", GgufValue.UInt8(200));
                w.Add("test.i8", GgufValue.Int8(-100));
                w.Add("test.u16", GgufValue.UInt16(60000));
                w.Add("test.i16", GgufValue.Int16(-30000));
                w.Add("test.u32", GgufValue.UInt32(4_000_000_000));
                w.Add("test.i32", GgufValue.Int32(-2_000_000_000));
                w.Add("test.u64", GgufValue.UInt64(18_000_000_000_000_000_000));
                w.Add("test.i64", GgufValue.Int64(-9_000_000_000_000_000_000));
                w.Add("test.f32", GgufValue.Float32(-2.5f));
                w.Add("test.f64", GgufValue.Float64(0.125));
                w.Add("test.bool", GgufValue.Bool(true));
                w.Add("test.str", GgufValue.String("héllo wörld"));
                w.Add("test.ints", GgufValue.Array(new[] { 3, -4, 5 }));
                w.Add("test.strs", GgufValue.Array(new[] { "a", "b" }));
            },
        });
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true });
        var m = weights.Metadata;
        Assert.Equal("200", m["test.u8"]);
        Assert.Equal("-100", m["test.i8"]);
        Assert.Equal("60000", m["test.u16"]);
        Assert.Equal("-30000", m["test.i16"]);
        Assert.Equal("4000000000", m["test.u32"]);
        Assert.Equal("-2000000000", m["test.i32"]);
        Assert.Equal("18000000000000000000", m["test.u64"]);
        Assert.Equal("-9000000000000000000", m["test.i64"]);
        Assert.Equal(-2.5, double.Parse(m["test.f32"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0.125, double.Parse(m["test.f64"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("true", m["test.bool"]);
        Assert.Equal("héllo wörld", m["test.str"]);
        // llama.cpp keeps no arrays in this map; its tokenizer reading our string/float/int32 arrays is tested elsewhere.
        Assert.False(m.ContainsKey("test.ints"));
        Assert.Equal("llama", m["general.architecture"]);
        Assert.Equal("64", m["llama.embedding_length"]);
        Assert.Equal("2", m["llama.attention.head_count_kv"]);
    }

    [Fact]
    public void AnotherAlignmentGivesTheSameModel()
    {
        using var dir = new TempDir();
        var shape = Shape(tied: true);
        string a32 = dir.File("a32.gguf"), a64 = dir.File("a64.gguf");
        LlamaGgufSynth.Write(a32, shape, Vocab, GgmlType.Q8_0, 5);
        LlamaGgufSynth.Write(a64, shape, Vocab, GgmlType.Q8_0, 5, new LlamaGgufOptions { Alignment = 64 });
        Assert.NotEqual(File.ReadAllBytes(a32).Length, File.ReadAllBytes(a64).Length);
        Assert.Equal(Logits(a32), Logits(a64));
    }

    static float[] Logits(string path)
    {
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 64 });
        using var context = weights.CreateContext(new ModelParams(path) { ContextSize = 64, Threads = 1, BatchThreads = 1 });
        var tokens = weights.Tokenize("the cat sat on the mat", true, false, Encoding.UTF8);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        return context.NativeHandle.GetLogitsIth(tokens.Length - 1).ToArray();
    }
}
