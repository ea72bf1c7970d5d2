using System.Text.Json;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat classify` in-process on the committed shapes-tiny.</summary>
public sealed class ClassifyCommandTests
{
    static readonly string Model = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    [Fact]
    public async Task A_masked_object_gets_its_caption_first_as_json()
    {
        using var temp = new TempDir();
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 42);
        var target = scene.Objects[0];
        scene.SavePng(temp.File("scene.png"));
        ShapesPng.SaveMaskPng(target.VisibleMask, temp.File("mask.png"));
        var captions = (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
                        select ShapesText.RegionCaption(size, color, shape)).ToArray();
        File.WriteAllLines(temp.File("labels.txt"), ["# the 60 region captions", .. captions]);

        var (exit, stdout, stderr) = await CliRunner.RunAsync("classify", "--model", Model, "--image", temp.File("scene.png"),
            "--mask", temp.File("mask.png"), "--labels-file", temp.File("labels.txt"), "--top", "3", "--json", "--threads", "1");

        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal("shapes-tiny", doc.RootElement.GetProperty("model").GetString());
        var labels = doc.RootElement.GetProperty("labels").EnumerateArray().ToArray();
        Assert.Equal(3, labels.Length);
        Assert.Equal(target.Caption, labels[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Labels_are_required_once_and_bad_ones_are_named()
    {
        using var temp = new TempDir();
        ShapesGenerator.Generate(ShapesSeeds.TestStart).SavePng(temp.File("scene.png"));
        var (none, _, noneErr) = await CliRunner.RunAsync("classify", "--model", Model, "--image", temp.File("scene.png"));
        Assert.Equal(2, none);
        Assert.Contains("--labels", noneErr);

        var (bad, _, badErr) = await CliRunner.RunAsync("classify", "--model", Model, "--image", temp.File("scene.png"),
            "--labels", "a large red circle,,a small blue cross", "--threads", "1");
        Assert.Equal(2, bad);
        Assert.Contains("labels[1]", badErr);
    }

    [Fact]
    public async Task Eval_zero_shot_on_a_model_folder_goes_through_the_served_path_and_beats_plain_clip()
    {
        var (exit, stdout, stderr) = await CliRunner.RunAsync("eval", "zero-shot", "--model", Model, "--scenes", "20", "--json", "--threads", "1");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal("served", r.GetProperty("path").GetString());
        double mask = r.GetProperty("alpha_mask").GetDouble(), clip = r.GetProperty("clip_whole").GetDouble();
        Assert.True(mask >= 0.9, $"mask top-1 {mask}");
        Assert.True(mask > clip, $"mask {mask} not above plain CLIP whole image {clip}");
        Assert.True(r.GetProperty("alpha_box").GetDouble() > r.GetProperty("alpha_whole").GetDouble());
    }
}
