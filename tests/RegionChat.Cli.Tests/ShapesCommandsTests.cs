using System.CommandLine;
using System.Text.Json;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;
using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Cli.Tests;

public class ShapesCommandsTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(ShapesCommands.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Render_writes_the_scene_png_and_masks_and_prints_captions_and_qa()
    {
        using var dir = new TempDir();
        var scene = ShapesGenerator.Generate(1_000_000_007);
        var (code, output, error) = Run("shapes", "render", "--seed", "1000000007", "--out", dir.File("scene.png"), "--masks", dir.File("masks"));
        Assert.True(code == 0, error);
        Assert.Contains($"describe the image -> {scene.Caption}", output);
        Assert.Contains($"how many objects are there? -> {ShapesText.CountWord(scene.Objects.Count)}", output);
        foreach (var o in scene.Objects)
        {
            Assert.Contains($"describe this region -> {o.Caption}", output);
            Assert.Contains($"what color is it? -> {o.Color.Word()}", output);
            using var mask = Image.Load<L8>(dir.File($"masks/region-{o.Index}.png"));
            Assert.Equal(o.VisibleArea, CountWhite(mask));
        }

        using var image = Image.Load<Rgb24>(dir.File("scene.png"));
        Assert.Equal((64, 64), (image.Width, image.Height));
        for (int p = 0; p < 64 * 64; p++)
        {
            var px = image[p % 64, p / 64];
            Assert.Equal((scene.Pixels[3 * p], scene.Pixels[3 * p + 1], scene.Pixels[3 * p + 2]), (px.R, px.G, px.B));
        }
    }

    [Fact]
    public void Render_scale_enlarges_the_image()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("shapes", "render", "--seed", "3", "--out", dir.File("big.png"), "--scale", "6");
        Assert.True(code == 0, error);
        using var image = Image.Load<Rgb24>(dir.File("big.png"));
        Assert.Equal(384, image.Width);
    }

    [Fact]
    public void Export_writes_jsonl_and_coco_for_the_test_split_by_default()
    {
        using var dir = new TempDir();
        var (code, output, error) = Run("shapes", "export", "--out", dir.Path, "--count", "5", "--coco");
        Assert.True(code == 0, error);
        Assert.Contains("seeds 1000000000..1000000004", output);
        var scenes = ShapesGenerator.GenerateMany(1_000_000_000, 5).ToList();
        var lines = File.ReadAllLines(Path.Combine(dir.Path, "shapes.jsonl"));
        Assert.Equal(5 + scenes.Sum(s => s.Objects.Count), lines.Length);
        using var coco = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir.Path, "coco.json")));
        Assert.Equal(scenes.Sum(s => s.Objects.Count), coco.RootElement.GetProperty("annotations").GetArrayLength());
        Assert.Equal(5, Directory.GetFiles(Path.Combine(dir.Path, "images")).Length);
    }

    [Fact]
    public async Task Export_writes_jsonl_that_caption_batch_takes_as_it_is()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("shapes", "export", "--out", dir.File("export"), "--count", "2");
        Assert.True(code == 0, error);
        string jsonl = Path.Combine(dir.File("export"), "shapes.jsonl");
        int lines = File.ReadAllLines(jsonl).Length;

        string model = TinyModel.Write(dir.File("tiny"));
        var batch = await CliRunner.RunAsync("caption-batch", "--input", jsonl, "--output", dir.File("captions.jsonl"),
            "--model", model, "--max-tokens", "2", "--concurrency", "2", "--threads", "1");
        Assert.True(batch.Exit == 0, batch.Err + batch.Out);
        var records = File.ReadAllLines(dir.File("captions.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(lines, records.Count);
        Assert.All(records, r => Assert.True(r.TryGetProperty("caption", out _), r.ToString()));

        // A region with two kinds (what the export wrote before) is an error record that says so once.
        string bad = dir.File("bad.jsonl");
        File.WriteAllText(bad, "{\"id\": \"two-kinds\", \"image\": \"export/images/scene-1000000000.png\", " +
            "\"region\": {\"mask\": \"export/masks/scene-1000000000-0.png\", \"box\": [0, 0, 8, 8]}}\n");
        var failed = await CliRunner.RunAsync("caption-batch", "--input", bad, "--output", dir.File("bad-out.jsonl"),
            "--model", model, "--max-tokens", "2", "--threads", "1");
        Assert.Equal(1, failed.Exit);
        string text = JsonDocument.Parse(File.ReadAllText(dir.File("bad-out.jsonl"))).RootElement.GetProperty("error").GetString()!;
        Assert.StartsWith("region: has several kinds (mask, box)", text);
    }

    [Fact]
    public void Export_with_a_train_seed_writes_train_scenes()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("shapes", "export", "--out", dir.Path, "--count", "2", "--split", "Train", "--seed", "41");
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(dir.Path, "images", "scene-42.png")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "coco.json")));
    }

    [Theory]
    [InlineData("export", "--count", "3", "--split", "Train", "--seed", "1000000000")]   // test seeds are never training data
    [InlineData("export", "--count", "3", "--split", "Train", "--seed", "899999999")]    // run crosses into validation
    [InlineData("export", "--count", "0")]
    [InlineData("export", "--count", "2000000")]
    public void Export_rejects_bad_parameters_with_one_line(params string[] args)
    {
        using var dir = new TempDir();
        var (code, _, error) = Run(["shapes", .. args, "--out", dir.File("out")]);
        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Render_rejects_a_negative_seed_and_a_bad_scale()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("shapes", "render", "--seed", "-4", "--out", dir.File("a.png"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        (code, _, error) = Run("shapes", "render", "--seed", "4", "--out", dir.File("b.png"), "--scale", "99");
        Assert.Equal(1, code);
        Assert.Contains("scale", error);
    }

    static int CountWhite(Image<L8> mask)
    {
        int n = 0;
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
                if (mask[x, y].PackedValue == 255) n++;
        return n;
    }
}
