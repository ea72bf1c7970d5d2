using System.CommandLine;
using RegionChat.Cli.Commands;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using TorchSharp;
using TorchSharp.PyBridge;

namespace RegionChat.Cli.Tests;

/// <summary>Runs `regionchat vision preprocess` in-process, as Program.cs wires it.</summary>
public class VisionPreprocessCommandTests
{
    static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand();
        foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    static (double Mean, double Max) Errors(torch.Tensor ours, torch.Tensor reference)
    {
        Assert.Equal(reference.shape, ours.shape);
        using var diff = (ours - reference).abs();
        return (diff.mean().item<float>(), diff.max().item<float>());
    }

    [Fact]
    public void PreprocessOutputFeedsEncode()
    {
        using var dir = new TempDir();
        string model = TinyModel.Write(dir.File("tiny"));
        ShapesGenerator.Generate(1_000_000_011).SavePng(dir.File("scene.png"));
        var pre = Run("vision", "preprocess", "--image", dir.File("scene.png"), "--box", "8,8,40,40",
            "--size", TinyModel.Resolution.ToString(), "--output", dir.File("pre.safetensors"));
        Assert.True(pre.ExitCode == 0, pre.Err);

        var encode = Run("vision", "encode", "--weights", Path.Combine(model, "vision.safetensors"), "--config", Path.Combine(model, "vision.json"),
            "--input", dir.File("pre.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(encode.ExitCode == 0, encode.Err);
        var outputs = Safetensors.LoadStateDict(dir.File("out.safetensors"), null);
        Assert.Equal(new long[] { 1, (TinyModel.Resolution / TinyModel.Patch) * (TinyModel.Resolution / TinyModel.Patch), TinyModel.VisionWidth },
            outputs["patch_features"].shape);
    }

    [SkippableFact]
    public void MatchesThePythonReferenceOnTheGoldenScene()
    {
        string golden = SharedFiles.Require("goldens/preprocess-336");
        using var dir = new TempDir();
        var (code, stdout, stderr) = Run("vision", "preprocess",
            "--image", Path.Combine(golden, "scene.png"), "--mask", Path.Combine(golden, "region.png"),
            "--size", "336", "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, stderr);
        Assert.Contains("pixel_values [3,336,336]", stdout);

        var ours = Safetensors.LoadStateDict(dir.File("out.safetensors"), null);
        var reference = Safetensors.LoadStateDict(Path.Combine(golden, "preprocess.safetensors"), null);
        var (pixelMean, pixelMax) = Errors(ours["pixel_values"], reference["pixel_values"]);
        var (alphaMean, _) = Errors(ours["alpha"], reference["alpha"]);
        Assert.True(pixelMean <= 0.005, $"pixel_values mean abs error {pixelMean}");
        Assert.True(pixelMax <= 0.35, $"pixel_values max abs error {pixelMax}");
        Assert.True(alphaMean <= 0.02, $"alpha mean abs error {alphaMean}");
    }

    [SkippableFact]
    public void NoRegionMeansWholeImageAlphaAndCropModeWorks()
    {
        string scene = SharedFiles.Require("goldens/preprocess-336/scene.png");
        using var dir = new TempDir();
        var (code, _, stderr) = Run("vision", "preprocess", "--image", scene, "--size", "64", "--mode", "crop", "--output", dir.File("o.safetensors"));
        Assert.True(code == 0, stderr);
        var tensors = Safetensors.LoadStateDict(dir.File("o.safetensors"), null);
        Assert.Equal(new long[] { 3, 64, 64 }, tensors["pixel_values"].shape);
        Assert.All(tensors["alpha"].data<float>().ToArray(), a => Assert.Equal(1.9231f, a, 4));
    }

    [SkippableFact]
    public void BoxPolygonAndRleOptionsProduceTheirRegions()
    {
        string scene = SharedFiles.Require("goldens/preprocess-336/scene.png"); // 200×120
        using var dir = new TempDir();
        // The same 50×30 rectangle x∈[50,100), y∈[30,60) as a box, a polygon, a COCO RLE and a normalised box.
        // RLE, column by column (Fortran order): 50 empty columns and 30 rows = 6030 zeros; then per column 30 ones
        // followed by 60 + 30 zeros up to the next column's run; after the last column 60 zeros plus 100 empty columns.
        var counts = new List<long> { 50 * 120 + 30 };
        for (int c = 0; c < 50; c++) { counts.Add(30); counts.Add(c < 49 ? 90 : 60 + 100 * 120); }
        File.WriteAllText(dir.File("rle.json"), $$"""{"size": [120, 200], "counts": [{{string.Join(",", counts)}}]}""");

        float[] Alpha(params string[] regionArgs)
        {
            string output = dir.File(Guid.NewGuid() + ".safetensors");
            var (code, _, stderr) = Run(["vision", "preprocess", "--image", scene, "--size", "50", "--output", output, .. regionArgs]);
            Assert.True(code == 0, stderr);
            return Safetensors.LoadStateDict(output, null)["alpha"].data<float>().ToArray();
        }

        var box = Alpha("--box", "50,30,100,60");
        Assert.Equal(box, Alpha("--polygon", "50,30,100,30,100,60,50,60"));
        Assert.Equal(box, Alpha("--rle", dir.File("rle.json")));
        Assert.Equal(box, Alpha("--region", """{"box": [0.25, 0.25, 0.5, 0.5], "normalized": true}"""));
        Assert.Contains(box, a => a > 1.9f);
        Assert.Contains(box, a => a < -1.9f);
    }

    public static TheoryData<string[], string> BadInputs => new()
    {
        { ["--image", "{dir}/missing.png"], "missing.png" },
        { ["--image", "{dir}/truncated.png"], "truncated" },
        { ["--image", "{dir}/text.png"], "not an image" },
        { ["--image", "{dir}/small.png", "--mask", "{dir}/mask.png"], "3×2" },
        { ["--image", "{dir}/small.png", "--box", "50,50,60,60"], "outside" },
        { ["--image", "{dir}/small.png", "--box", "1,2,x,4"], "'x' is not a number" },
        { ["--image", "{dir}/small.png", "--polygon", "1,1,5,5,9,9"], "covers no pixel" },
        { ["--image", "{dir}/small.png", "--box", "0,0,2,2", "--polygon", "0,0,5,0,5,5"], "at most one region option" },
        { ["--image", "{dir}/small.png", "--region", "{\"box\": [0,0,1,1], \"oops\": 1}"], "unknown key" },
        { ["--image", "{dir}/small.png", "--size", "0"], "--size" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputsGiveOneErrorLineAndANonZeroExitCode(string[] args, string expected)
    {
        using var dir = new TempDir();
        using (var small = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(20, 10))
        {
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(small, dir.File("small.png"));
            byte[] png = File.ReadAllBytes(dir.File("small.png"));
            File.WriteAllBytes(dir.File("truncated.png"), png[..(png.Length / 2)]);
        }
        using (var mask = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.L8>(3, 2))
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(mask, dir.File("mask.png"));
        File.WriteAllText(dir.File("text.png"), "hello");

        var (code, _, stderr) = Run(["vision", "preprocess", .. args.Select(a => a.Replace("{dir}", dir.Path)), "--output", dir.File("o.safetensors")]);
        Assert.NotEqual(0, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.False(File.Exists(dir.File("o.safetensors")));
    }
}
