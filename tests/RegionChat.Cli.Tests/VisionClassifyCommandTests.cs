using System.CommandLine;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat vision classify` (issue 18's CLI contract) against ../shared/goldens/alphaclip/clip-tiny.</summary>
public sealed class VisionClassifyCommandTests
{
    const string Golden = "goldens/alphaclip/clip-tiny";

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

    [SkippableTheory]
    [InlineData("clip.pth", null)]
    [InlineData("visual.pth", "text-hf.safetensors")]
    public void Classify_writes_the_reference_outputs(string weights, string? textWeights)
    {
        string dir = SharedFiles.Require(Golden);
        using var temp = new TempDir();
        string output = temp.File("out.safetensors");
        var args = new List<string> { "vision", "classify", "--weights", Path.Combine(dir, weights), "--config", Path.Combine(dir, "config.json"),
            "--labels", Path.Combine(dir, "labels.json"), "--input", Path.Combine(dir, "io.safetensors"), "--output", output };
        if (textWeights != null) args.AddRange(["--text-weights", Path.Combine(dir, textWeights)]);

        Assert.Equal(0, Regionchat([.. args]));

        var expected = StateDictFile.Read(Path.Combine(dir, "io.safetensors"));
        var actual = StateDictFile.Read(output);
        Assert.Equal(["image_features", "logits", "text_features", "tokens"], actual.Keys.Order());
        Assert.Equal(ScalarType.Int64, actual["tokens"].dtype);
        Assert.True(actual["tokens"].eq(expected["tokens"]).all().item<bool>(), "token ids differ from the reference");
        foreach (var (name, tolerance) in new[] { ("text_features", 1e-4), ("image_features", 1e-4), ("logits", 1e-3) })
        {
            double err = MaxAbsError(actual[name], expected[name]);
            Console.WriteLine($"{weights}+{textWeights}: {name} max abs error {err:G3}");
            Assert.True(err <= tolerance, $"{name}: max abs error {err:G3} > {tolerance}");
        }
    }

    [SkippableFact]
    public void Visual_weights_without_text_weights_fail_without_writing()
    {
        string dir = SharedFiles.Require(Golden);
        using var temp = new TempDir();
        int exit = Regionchat("vision", "classify", "--weights", Path.Combine(dir, "visual.pth"), "--config",
            Path.Combine(dir, "config.json"), "--labels", Path.Combine(dir, "labels.json"), "--input", Path.Combine(dir, "io.safetensors"),
            "--output", temp.File("out.safetensors"));
        Assert.Equal(1, exit);   // the message ("visual.pth: holds no CLIP text tower …") is checked in Vision.Tests
        Assert.False(File.Exists(temp.File("out.safetensors")));
    }
}
