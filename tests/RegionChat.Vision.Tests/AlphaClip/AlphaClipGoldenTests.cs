using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>The TorchSharp Alpha-CLIP against the reference PyTorch outputs (vit-tiny goldens).</summary>
public sealed class AlphaClipGoldenTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const double Tolerance = 1e-4;
    const double Bf16Tolerance = 5e-2;

    [SkippableTheory]
    [InlineData("weights.pth")]
    [InlineData("weights.safetensors")]
    public void EveryOutputMatchesTheReference(string weightsFile)
    {
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File(weightsFile), golden.Config);
        using var enc = model.Encode(golden["image"], golden["alpha"]);

        TensorAssert.Close(golden["pooled"], enc.Pooled, Tolerance, "pooled");
        TensorAssert.Close(golden["hidden_penultimate"], enc.Hidden(-2), Tolerance, "hidden_penultimate");
        TensorAssert.Close(golden["hidden_last"], enc.Hidden(-1), Tolerance, "hidden_last");
        TensorAssert.Close(golden["patch_features"], enc.PatchFeatures(), Tolerance, "patch_features");
        Assert.Equal(golden.Config.Layers + 1, enc.HiddenStates.Count);
    }

    /// <summary>The tower in bfloat16 (what vision.dtype auto picks on a CPU with bf16 instructions) against the float32
    /// goldens: the error a bf16 tower adds, stated relative to each output's largest value.</summary>
    [SkippableFact]
    public void InBfloat16EveryOutputStaysNearTheReference()
    {
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File("weights.safetensors"), golden.Config, ScalarType.BFloat16);
        using var enc = model.Encode(golden["image"], golden["alpha"]);
        foreach (var (name, actual) in new[] { ("pooled", enc.Pooled), ("hidden_penultimate", enc.Hidden(-2)), ("patch_features", enc.PatchFeatures()) })
        {
            var expected = golden[name];
            Assert.Equal(ScalarType.Float32, actual.dtype);
            double scale = expected.abs().max().item<float>();
            double error = (actual - expected).abs().max().item<float>() / scale;
            output.WriteLine($"bf16 {name}: max |error| / max |value| = {error:E2}");
            Assert.True(error < Bf16Tolerance, $"bf16 {name}: relative error {error:E2} over {Bf16Tolerance:E0}");
            Assert.True(error > 0, "bf16 gave float32's exact output: the tower did not run in bf16");
        }
    }

    [SkippableFact]
    public void PooledAndFastPatchPathMatchTheReference()
    {
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File("weights.safetensors"), golden.Config);

        using var pooled = model.EncodePooled(golden["image"], golden["alpha"]);
        TensorAssert.Close(golden["pooled"], pooled, Tolerance, "pooled");
        using var patches = model.PatchFeatures(golden["image"], golden["alpha"]);
        TensorAssert.Close(golden["patch_features"], patches, Tolerance, "patch_features");
        using var lastPatches = model.PatchFeatures(golden["image"], golden["alpha"], selectLayer: -1);
        TensorAssert.Close(golden["hidden_last"][.., 1..], lastPatches, Tolerance, "last-layer patches");
        using var penultimateByIndex = model.PatchFeatures(golden["image"], golden["alpha"], selectLayer: golden.Config.Layers - 1);
        TensorAssert.Close(golden["patch_features"], penultimateByIndex, Tolerance, "positive layer index");
        Assert.Throws<ArgumentOutOfRangeException>(() => model.PatchFeatures(golden["image"], golden["alpha"], selectLayer: golden.Config.Layers + 1));
    }

    [SkippableFact]
    public void OneImageAloneEqualsItsRowInTheBatch()
    {
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File("weights.safetensors"), golden.Config);
        using var single = model.PatchFeatures(golden["image"][1..2], golden["alpha"][1..2]);
        TensorAssert.Close(golden["patch_features"][1..2], single, Tolerance, "image 1 alone");
    }

    [SkippableFact]
    public void TheIndependentFloat64ReferenceAgreesWithTheGoldens()
    {
        // Validates ReferenceClip, which the plain-CLIP test below relies on.
        using var golden = new VitTinyGolden();
        var sd = StateDictFile.Read(golden.File("weights.safetensors"));
        var (pooled, penultimate, last) = ReferenceClip.Run(sd, golden.Config, golden["image"], golden["alpha"], useAlphaConv: true);
        TensorAssert.Close(golden["pooled"], pooled, Tolerance, "reference pooled");
        TensorAssert.Close(golden["hidden_penultimate"], penultimate, Tolerance, "reference penultimate");
        TensorAssert.Close(golden["hidden_last"], last, Tolerance, "reference last");
    }

    [SkippableFact]
    public void ForwardWithAutogradMatchesAndTrainsTheAlphaConv()
    {
        // The training path (grad enabled, out-of-place activations) must compute the same function.
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File("weights.safetensors"), golden.Config);
        using var grad = enable_grad();
        using var pooled = model.forward(golden["image"], golden["alpha"]);
        Assert.True(pooled.requires_grad);
        TensorAssert.Close(golden["pooled"], pooled.detach(), Tolerance, "pooled with autograd");
        pooled.square().sum().backward();
        var alphaGrad = model.get_parameter("conv1_alpha.weight")!.grad;
        Assert.NotNull(alphaGrad);
        Assert.True(alphaGrad!.abs().sum().item<float>() > 0);
    }

    [SkippableTheory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void HalfPrecisionRunStaysCloseToFloat32(ScalarType dtype)
    {
        using var golden = new VitTinyGolden();
        using var model = AlphaClipVisionTransformer.Load(golden.File("weights.safetensors"), golden.Config, dtype);
        Assert.Equal(dtype, model.DType);
        using var enc = model.Encode(golden["image"], golden["alpha"]);
        Assert.Equal(ScalarType.Float32, enc.Pooled.dtype);
        // bf16 keeps 8 mantissa bits (fp16: 11): allow a few percent of each output's range.
        foreach (var (name, actual) in new[] { ("pooled", enc.Pooled), ("hidden_last", enc.Hidden(-1)), ("patch_features", enc.PatchFeatures()) })
        {
            double scale = golden[name].abs().max().item<float>();
            double err = TensorAssert.MaxAbsError(actual, golden[name]);
            Assert.True(err < 0.05 * scale, $"{name}: {dtype} max abs error {err:G3} vs range {scale:G3}");
            Assert.True(err > 0, $"{name}: {dtype} result identical to fp32 — was {dtype} really used?");
        }
    }
}
