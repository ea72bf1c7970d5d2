using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>Key normalisation, architecture inference and checkpoint errors.</summary>
public sealed class AlphaClipCheckpointTests
{
    const double Tolerance = 1e-4;

    static Dictionary<string, Tensor> GoldenWeights(VitTinyGolden golden) => StateDictFile.Read(golden.File("weights.safetensors"));

    [SkippableFact]
    public void OpenAiNamesAndAFullClipStateDictLoadTheSame()
    {
        using var golden = new VitTinyGolden();
        var released = GoldenWeights(golden);
        // A full OpenAI-CLIP state dict: visual.* with in_proj_weight/in_proj_bias, plus a text tower whose keys
        // collide with the visual ones once the prefix is gone (they must be dropped, not loaded).
        var openAi = new Dictionary<string, Tensor>();
        foreach (var (k, t) in released)
            openAi["visual." + k.Replace("attn.in_proj.weight", "attn.in_proj_weight").Replace("attn.in_proj.bias", "attn.in_proj_bias")] = t;
        openAi["transformer.resblocks.0.attn.in_proj_weight"] = zeros(3 * 512, 512);
        openAi["token_embedding.weight"] = zeros(10, 512);
        Assert.Contains("visual.transformer.resblocks.0.attn.in_proj_weight", openAi.Keys);

        var normalized = AlphaClipCheckpoint.Normalize(openAi);
        Assert.Equal(released.Keys.OrderBy(k => k), normalized.Keys.OrderBy(k => k));

        using var model = AlphaClipVisionTransformer.FromStateDict(openAi, golden.Config);
        using var enc = model.Encode(golden["image"], golden["alpha"]);
        TensorAssert.Close(golden["pooled"], enc.Pooled, Tolerance, "pooled");
        TensorAssert.Close(golden["hidden_penultimate"], enc.Hidden(-2), Tolerance, "hidden_penultimate");
    }

    [SkippableFact]
    public void PlainClipCheckpointGetsZeroAlphaConvAndComputesClip()
    {
        using var golden = new VitTinyGolden();
        var plain = GoldenWeights(golden);
        Assert.True(plain.Remove(AlphaClipCheckpoint.AlphaConvKey));

        using var model = AlphaClipVisionTransformer.FromStateDict(plain, golden.Config);
        var alphaWeight = model.state_dict()[AlphaClipCheckpoint.AlphaConvKey];
        Assert.Equal(new long[] { golden.Config.Width, 1, golden.Config.PatchSize, golden.Config.PatchSize }, alphaWeight.shape);
        Assert.Equal(0.0, alphaWeight.abs().sum().item<float>());

        // The result no longer depends on alpha …
        using var withRegion = model.Encode(golden["image"], golden["alpha"]);
        using var onesAlpha = full_like(golden["alpha"], 1.9231);
        using var withWhole = model.Encode(golden["image"], onesAlpha);
        TensorAssert.Close(withWhole.Pooled, withRegion.Pooled, 1e-6, "pooled, region vs whole-image alpha");
        TensorAssert.Close(withWhole.Hidden(-1), withRegion.Hidden(-1), 1e-6, "last hidden, region vs whole-image alpha");

        // … it is plain CLIP (independent float64 forward without the alpha conv) …
        var (pooled, penultimate, last) = ReferenceClip.Run(plain, golden.Config, golden["image"], golden["alpha"], useAlphaConv: false);
        TensorAssert.Close(pooled, withRegion.Pooled, Tolerance, "pooled vs plain CLIP");
        TensorAssert.Close(penultimate, withRegion.Hidden(-2), Tolerance, "penultimate vs plain CLIP");
        TensorAssert.Close(last, withRegion.Hidden(-1), Tolerance, "last vs plain CLIP");

        // … and not the Alpha-CLIP result with the trained alpha conv.
        Assert.True(TensorAssert.MaxAbsError(withRegion.Pooled, golden["pooled"]) > 1e-3, "alpha conv made no difference");
    }

    [SkippableFact]
    public void ArchitectureIsInferredFromTheWeights()
    {
        using var golden = new VitTinyGolden();
        var sd = GoldenWeights(golden);
        Assert.Equal(golden.Config, AlphaClipConfig.InferFrom(sd, heads: golden.Config.Heads));
        // Without a head count the released convention width/64 applies.
        Assert.Equal(golden.Config with { Heads = golden.Config.Width / 64 }, AlphaClipConfig.InferFrom(sd));
        // Also through the "visual." prefix and OpenAI names, and for a checkpoint without the alpha conv.
        var prefixed = sd.Where(kv => kv.Key != AlphaClipCheckpoint.AlphaConvKey)
            .ToDictionary(kv => "visual." + kv.Key.Replace("in_proj.weight", "in_proj_weight"), kv => kv.Value);
        Assert.Equal(golden.Config, AlphaClipConfig.InferFrom(prefixed, heads: golden.Config.Heads));
        // Loading without a config uses the inferred one (heads = 1 here): runs, but is not the 4-head reference.
        using var inferred = AlphaClipVisionTransformer.Load(golden.File("weights.pth"));
        Assert.Equal(1, inferred.Config.Heads);
        using var pooled = inferred.EncodePooled(golden["image"], golden["alpha"]);
        Assert.True(TensorAssert.MaxAbsError(pooled, golden["pooled"]) > 1e-3);
    }

    [Fact]
    public void InferenceReadsEveryDimensionOfARandomLargerModel()
    {
        var config = new AlphaClipConfig(InputResolution: 48, PatchSize: 12, Width: 128, Layers: 5, Heads: 2, OutputDim: 24);
        using var model = new AlphaClipVisionTransformer(config);
        var sd = model.state_dict();
        Assert.Equal(config with { Heads = 2 }, AlphaClipConfig.InferFrom(sd));
        Assert.Equal(config with { Heads = 4 }, AlphaClipConfig.InferFrom(sd, heads: 4));
    }

    [SkippableFact]
    public void ConfigJsonIsRead()
    {
        using var golden = new VitTinyGolden();
        Assert.Equal(new AlphaClipConfig(32, 8, 64, 3, 4, 32), golden.Config);
        Assert.Equal(golden.Config, AlphaClipConfig.FromJson(golden.Config.ToJson()));
        var bad = Assert.Throws<InvalidDataException>(() => AlphaClipConfig.FromJson("{\"input_resolution\": 32, \"patch_size\": 8}"));
        Assert.Contains("width", bad.Message);
        Assert.Throws<ArgumentException>(() => AlphaClipConfig.FromJson(
            "{\"input_resolution\": 30, \"patch_size\": 8, \"width\": 64, \"layers\": 3, \"heads\": 4, \"output_dim\": 32}"));
    }

    [SkippableFact]
    public void AWrongShapedTensorIsNamedInTheError()
    {
        using var golden = new VitTinyGolden();
        using var dir = new TempDir();
        var sd = GoldenWeights(golden);
        const string key = "transformer.resblocks.1.mlp.c_fc.weight";
        sd[key] = zeros(4 * golden.Config.Width, golden.Config.Width + 1);
        string path = dir.File("bad.safetensors");
        StateDictFile.WriteSafetensors(path, sd);

        var e = Assert.Throws<InvalidDataException>(() => AlphaClipVisionTransformer.Load(path, golden.Config));
        Assert.Contains(key, e.Message);
        Assert.Contains("[256, 65]", e.Message);
        Assert.Contains(path, e.Message);
    }

    [SkippableFact]
    public void MissingAndUnexpectedKeysAreNamed()
    {
        using var golden = new VitTinyGolden();
        var missing = GoldenWeights(golden);
        missing.Remove("ln_post.bias");
        var e = Assert.Throws<InvalidDataException>(() => AlphaClipVisionTransformer.FromStateDict(missing, golden.Config));
        Assert.Contains("ln_post.bias", e.Message);

        var extra = GoldenWeights(golden);
        extra["transformer.resblocks.3.ln_1.weight"] = ones(golden.Config.Width);
        e = Assert.Throws<InvalidDataException>(() => AlphaClipVisionTransformer.FromStateDict(extra, golden.Config));
        Assert.Contains("transformer.resblocks.3.ln_1.weight", e.Message);
    }

    [Fact]
    public void CorruptFilesGiveClearErrors()
    {
        using var dir = new TempDir();
        string junk = dir.File("junk.pth");
        File.WriteAllBytes(junk, "PK\u0003\u0004 definitely not a zip archive"u8.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => AlphaClipVisionTransformer.Load(junk));
        Assert.Contains(junk, e.Message);

        // A safetensors header that claims an enormous tensor must not allocate it.
        string huge = dir.File("huge.safetensors");
        var header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[100000,100000],\"data_offsets\":[0,40000000000]}}"u8.ToArray();
        File.WriteAllBytes(huge, BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(new byte[16]).ToArray());
        e = Assert.Throws<InvalidDataException>(() => AlphaClipVisionTransformer.Load(huge));
        Assert.Contains("'w'", e.Message);

        string truncated = dir.File("short.safetensors");
        File.WriteAllBytes(truncated, BitConverter.GetBytes(1000UL).Concat(new byte[10]).ToArray());
        e = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(truncated));
        Assert.Contains("header length", e.Message);

        Assert.Throws<FileNotFoundException>(() => AlphaClipVisionTransformer.Load(dir.File("absent.pth")));
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        using var model = new AlphaClipVisionTransformer(new AlphaClipConfig(32, 8, 64, 1, 1, 16));
        using var image = zeros(2, 3, 32, 32);
        using var alpha = zeros(2, 1, 32, 32);
        Assert.Throws<ArgumentException>(() => model.EncodePooled(zeros(2, 3, 33, 33), alpha));
        Assert.Throws<ArgumentException>(() => model.EncodePooled(image, zeros(1, 1, 32, 32)));
        Assert.Throws<ArgumentException>(() => model.EncodePooled(image, zeros(2, 3, 32, 32)));
        Assert.Throws<ArgumentException>(() => new AlphaClipConfig(32, 8, 64, 1, 3, 16).Validate());
    }

    [Fact]
    public void SafetensorsWriterRoundTripsViewsAndDtypes()
    {
        using var dir = new TempDir();
        using var baseTensor = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4);
        var tensors = new Dictionary<string, Tensor>
        {
            ["slice"] = baseTensor[.., 1..],                      // non-contiguous view
            ["row"] = baseTensor[1],                              // contiguous view with a storage offset
            ["half"] = baseTensor.to(ScalarType.BFloat16),
        };
        string path = dir.File("t.safetensors");
        StateDictFile.WriteSafetensors(path, tensors);
        Assert.Equal(0, (new FileInfo(path).Length - 8 - (long)BitConverter.ToUInt64(File.ReadAllBytes(path), 0)) % 4);
        var back = StateDictFile.Read(path);
        foreach (var (k, t) in tensors)
        {
            Assert.Equal(t.dtype, back[k].dtype);
            Assert.Equal(0.0, TensorAssert.MaxAbsError(back[k], t));
        }
    }
}
