using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RegionChat.Llm.Tests.Gguf;

public class MmprojFileTests
{
    // ggml tensor names of the LLaVA mlp2x_gelu projector and the encodings this test stores them in.
    static readonly (string Gguf, string Llava, GgmlType Type)[] Projector =
    [
        ("mm.0.weight", "model.mm_projector.0.weight", GgmlType.F16),
        ("mm.0.bias", "model.mm_projector.0.bias", GgmlType.F32),
        ("mm.2.weight", "model.mm_projector.2.weight", GgmlType.F32),
        ("mm.2.bias", "model.mm_projector.2.bias", GgmlType.F16),
    ];

    /// <summary>An mmproj-shaped GGUF as llama.cpp's LLaVA converter lays it out: clip.* keys, a vision tensor, mm.N.*.</summary>
    static void WriteMmproj(string path, IReadOnlyDictionary<string, Tensor> golden)
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "clip");
        w.AddBool("clip.has_text_encoder", false);
        w.AddBool("clip.has_vision_encoder", true);
        w.AddBool("clip.has_llava_projector", true);
        w.AddString("clip.projector_type", "mlp");
        w.AddBool("clip.use_gelu", false);
        w.AddUInt32("clip.vision.image_size", 32);
        w.AddUInt32("clip.vision.patch_size", 8);
        w.AddUInt32("clip.vision.embedding_length", 64);
        w.AddUInt32("clip.vision.feed_forward_length", 256);
        w.AddUInt32("clip.vision.projection_dim", 32);
        w.AddUInt32("clip.vision.attention.head_count", 4);
        w.AddFloat32("clip.vision.attention.layer_norm_epsilon", 1e-5f);
        w.AddUInt32("clip.vision.block_count", 2);
        w.Add("clip.vision.image_mean", GgufValue.Array(new[] { 0.48145466f, 0.4578275f, 0.40821073f }));
        w.Add("clip.vision.image_std", GgufValue.Array(new[] { 0.26862954f, 0.26130258f, 0.27577711f }));
        w.Add("clip.vision.feature_layer", GgufValue.Array(new[] { 2 }));
        w.AddTensor("v.class_embd", [64], GgmlType.F32, new float[64]);
        foreach (var (gguf, llava, type) in Projector)
        {
            var t = golden[llava];
            long[] ne = t.shape.Reverse().ToArray(); // PyTorch [out, in] → ggml ne [in, out]
            w.AddTensor(gguf, ne, type, t.contiguous().data<float>().ToArray());
        }
        w.Write(path);
    }

    [SkippableFact]
    public void ImportsTheProjectorAsALlavaStateDict()
    {
        string goldenPath = SharedFiles.Require("goldens/alphaclip/vit-tiny/projector.safetensors");
        var golden = Safetensors.LoadStateDict(goldenPath, null);
        using var dir = new TempDir();
        string path = dir.File("mmproj.gguf");
        WriteMmproj(path, golden);

        using var mmproj = MmprojFile.Open(path);
        var info = mmproj.Info;
        Assert.Equal("mlp", info.ProjectorType);
        Assert.Equal((32, 8, 64, 2, 4), (info.ImageSize, info.PatchSize, info.EmbeddingLength, info.BlockCount, info.HeadCount));
        Assert.Equal(256, info.FeedForwardLength);
        Assert.True(info.HasLlavaProjector);
        Assert.Equal(new[] { 0.48145466f, 0.4578275f, 0.40821073f }, info.ImageMean);
        Assert.Equal(new[] { 0.26862954f, 0.26130258f, 0.27577711f }, info.ImageStd);
        Assert.Equal(new[] { 2 }, info.FeatureLayers);
        Assert.Equal(1e-5f, info.LayerNormEps);
        Assert.Equal(16, info.ClipKeys.Count(kv => kv.Key.StartsWith("clip.")));

        var imported = mmproj.ReadProjectorStateDict();
        try
        {
            Assert.Equal(Projector.Select(p => p.Llava).Order(), imported.Keys.Order());
            foreach (var (_, llava, type) in Projector)
            {
                var expected = golden[llava];
                var actual = imported[llava];
                Assert.Equal(ScalarType.Float32, actual.dtype);
                Assert.Equal(expected.shape, actual.shape);
                var e = expected.contiguous().data<float>().ToArray();
                var a = actual.data<float>().ToArray();
                // F32 exact; F16 exactly the fp16 rounding of the golden value (|error| ≤ 2^-11 relative).
                var want = type == GgmlType.F16 ? e.Select(x => (float)(Half)x).ToArray() : e;
                Assert.Equal(want, a);
                for (int i = 0; i < e.Length; i++) Assert.True(MathF.Abs(a[i] - e[i]) <= MathF.Abs(e[i]) * (1f / 2048) + 1e-7f);
            }
            // The imported projector computes what the golden says it computes: Linear → GELU → Linear.
            var io = Safetensors.LoadStateDict(SharedFiles.Require("goldens/alphaclip/vit-tiny/io.safetensors"), null);
            using var h = nn.functional.gelu(nn.functional.linear(io["patch_features"], imported["model.mm_projector.0.weight"], imported["model.mm_projector.0.bias"]));
            using var y = nn.functional.linear(h, imported["model.mm_projector.2.weight"], imported["model.mm_projector.2.bias"]);
            Assert.True(y.allclose(io["projected"], rtol: 1e-2, atol: 2e-3), $"max diff {(y - io["projected"]).abs().max().item<float>()}");
        }
        finally
        {
            foreach (var t in imported.Values) t.Dispose();
        }
    }

    [Fact]
    public void RejectsFilesThatAreNotLlavaMmprojs()
    {
        using var dir = new TempDir();
        var plain = new GgufWriter();
        plain.AddString("general.architecture", "llama");
        plain.Write(dir.File("plain.gguf"));
        var e1 = Assert.Throws<GgufFormatException>(() => MmprojFile.Open(dir.File("plain.gguf")));
        Assert.Contains("no clip.* metadata", e1.Message);

        var noProjector = new GgufWriter();
        noProjector.AddString("clip.projector_type", "ldp");
        noProjector.AddTensor("mm.model.mb_block.0.weight", [4], GgmlType.F32, new float[4]);
        noProjector.Write(dir.File("ldp.gguf"));
        var e2 = Assert.Throws<GgufFormatException>(() => MmprojFile.Open(dir.File("ldp.gguf")));
        Assert.Contains("no LLaVA projector tensors", e2.Message);
    }
}
