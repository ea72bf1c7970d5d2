using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

public sealed class LlavaProjectorTests
{
    const double Tolerance = 1e-4;

    [SkippableTheory]
    [InlineData("projector.pth")]
    [InlineData("projector.safetensors")]
    public void ProjectsGoldenPatchFeaturesLikeTheReference(string file)
    {
        using var golden = new VitTinyGolden();
        using var projector = LlavaProjector.Load(golden.File(file));
        Assert.Equal("mlp2x_gelu", projector.ProjectorType);
        Assert.Equal(golden.Config.Width, projector.InputDim);
        Assert.Equal(128, projector.OutputDim);
        using var projected = projector.Project(golden["patch_features"]);
        TensorAssert.Close(golden["projected"], projected, Tolerance, "projected");
    }

    [SkippableFact]
    public void StateDictUsesSequentialIndicesAndAcceptsEveryLlavaSpelling()
    {
        using var golden = new VitTinyGolden();
        var llava = StateDictFile.Read(golden.File("projector.safetensors"));
        Assert.Contains("model.mm_projector.0.weight", llava.Keys);

        using var fromLlava = LlavaProjector.FromStateDict(llava);
        Assert.Equal(new[] { "0.bias", "0.weight", "2.bias", "2.weight" }, fromLlava.state_dict().Keys.OrderBy(k => k));

        // Without "model.", plus unrelated LLM weights that must be ignored.
        var bare = llava.ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
        bare["model.layers.0.self_attn.q_proj.weight"] = zeros(4, 4);
        using var fromBare = LlavaProjector.FromStateDict(bare);
        // This module's own names, e.g. a state dict saved from it; f16 tensors (as in an mmproj GGUF) are converted.
        var own = fromLlava.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float16));
        using var fromOwn = LlavaProjector.FromStateDict(own);

        using var a = fromBare.Project(golden["patch_features"]);
        TensorAssert.Close(golden["projected"], a, Tolerance, "without model. prefix");
        using var b = fromOwn.Project(golden["patch_features"]);
        TensorAssert.Close(golden["projected"], b, 2e-2, "from f16 weights");
    }

    [Fact]
    public void LinearProjectorIsOneAffineMap()
    {
        using var w = randn(6, 5);
        using var bias = randn(6);
        using var projector = LlavaProjector.FromStateDict(new Dictionary<string, Tensor>
        {
            ["model.mm_projector.0.weight"] = w,
            ["model.mm_projector.0.bias"] = bias,
        });
        Assert.Equal("linear", projector.ProjectorType);
        Assert.Equal(new[] { "0.bias", "0.weight" }, projector.state_dict().Keys.OrderBy(k => k));
        using var x = randn(2, 3, 5);
        using var expected = x.matmul(w.t()) + bias;
        using var actual = projector.Project(x);
        TensorAssert.Close(expected, actual, 1e-5, "linear");
    }

    [Fact]
    public void Mlp2xUsesExactErfGelu()
    {
        using var projector = new LlavaProjector(5, 7, depth: 2);
        var sd = projector.state_dict();
        using var x = randn(4, 5) * 3;
        using var h = x.matmul(sd["0.weight"].t()) + sd["0.bias"];
        using var gelu = 0.5 * h * (1 + special.erf(h / Math.Sqrt(2)));
        using var expected = gelu.matmul(sd["2.weight"].t()) + sd["2.bias"];
        using var actual = projector.Project(x);
        TensorAssert.Close(expected, actual, 1e-5, "mlp2x_gelu");
    }

    [Fact]
    public void InconsistentOrMissingTensorsGiveClearErrors()
    {
        var e = Assert.Throws<InvalidDataException>(() => LlavaProjector.FromStateDict(new Dictionary<string, Tensor>
        {
            ["model.mm_projector.0.weight"] = zeros(8, 4), ["model.mm_projector.0.bias"] = zeros(8),
            ["model.mm_projector.2.weight"] = zeros(8, 9), ["model.mm_projector.2.bias"] = zeros(8),
        }));
        Assert.Contains("mm_projector.2.weight", e.Message);

        e = Assert.Throws<InvalidDataException>(() => LlavaProjector.FromStateDict(new Dictionary<string, Tensor>
        {
            ["model.mm_projector.0.weight"] = zeros(8, 4),
        }));
        Assert.Contains("mm_projector.0.bias", e.Message);

        e = Assert.Throws<InvalidDataException>(() => LlavaProjector.FromStateDict(new Dictionary<string, Tensor> { ["conv1.weight"] = zeros(1) }));
        Assert.Contains("mm_projector", e.Message);

        using var projector = new LlavaProjector(4, 8);
        Assert.Throws<ArgumentException>(() => projector.Project(zeros(2, 5)));
    }
}
