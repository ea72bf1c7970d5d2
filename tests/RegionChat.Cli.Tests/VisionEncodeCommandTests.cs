using System.CommandLine;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat vision encode` run in-process through the same command tree as the executable.</summary>
public sealed class VisionEncodeCommandTests
{
    const string Golden = "goldens/alphaclip/vit-tiny";

    static int Regionchat(params string[] args)
    {
        var root = new RootCommand("test");
        foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
        return root.Parse(args).Invoke();
    }

    static double MaxAbsError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        return (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
    }

    [SkippableFact]
    public void EncodeWritesEveryReferenceOutput()
    {
        string dir = SharedFiles.Require(Golden);
        using var temp = new TempDir();
        string output = temp.File("out.safetensors");

        int rc = Regionchat("vision", "encode", "--weights", Path.Combine(dir, "weights.pth"), "--config", Path.Combine(dir, "config.json"),
            "--input", Path.Combine(dir, "io.safetensors"), "--output", output, "--projector", Path.Combine(dir, "projector.pth"));

        Assert.Equal(0, rc);
        var expected = StateDictFile.Read(Path.Combine(dir, "io.safetensors"));
        var actual = StateDictFile.Read(output);
        Assert.Equal(new[] { "hidden_last", "hidden_penultimate", "patch_features", "pooled", "projected" }, actual.Keys.OrderBy(k => k));
        foreach (var (name, tensor) in actual)
        {
            Assert.Equal(ScalarType.Float32, tensor.dtype);
            double err = MaxAbsError(tensor, expected[name]);
            Assert.True(err <= 1e-4, $"{name}: max abs error {err:G3}");
        }
    }

    [SkippableFact]
    public void MaskIsTurnedIntoAlphaWhenAlphaIsAbsent()
    {
        string dir = SharedFiles.Require(Golden);
        using var temp = new TempDir();
        var io = StateDictFile.Read(Path.Combine(dir, "io.safetensors"));
        string input = temp.File("in.safetensors"), output = temp.File("out.safetensors");
        StateDictFile.WriteSafetensors(input, new Dictionary<string, Tensor> { ["image"] = io["image"], ["mask"] = io["mask"] });

        int rc = Regionchat("vision", "encode", "--weights", Path.Combine(dir, "weights.safetensors"),
            "--config", Path.Combine(dir, "config.json"), "--input", input, "--output", output);

        Assert.Equal(0, rc);
        var actual = StateDictFile.Read(output);
        Assert.DoesNotContain("projected", actual.Keys);
        Assert.True(MaxAbsError(actual["patch_features"], io["patch_features"]) <= 1e-4);
        Assert.True(MaxAbsError(actual["pooled"], io["pooled"]) <= 1e-4);
    }

    [SkippableFact]
    public void BadInputsExitNonZeroWithoutWritingOutput()
    {
        string dir = SharedFiles.Require(Golden);
        using var temp = new TempDir();
        string output = temp.File("out.safetensors");
        Assert.NotEqual(0, Regionchat("vision", "encode", "--weights", temp.File("absent.pth"),
            "--input", Path.Combine(dir, "io.safetensors"), "--output", output));
        // The weights file given as --input has no `image` tensor.
        Assert.NotEqual(0, Regionchat("vision", "encode", "--weights", Path.Combine(dir, "weights.pth"), "--config",
            Path.Combine(dir, "config.json"), "--input", Path.Combine(dir, "weights.safetensors"), "--output", output));
        Assert.False(File.Exists(output));
    }
}
