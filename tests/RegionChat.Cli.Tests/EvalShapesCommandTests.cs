using System.Text.Json.Nodes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat eval shapes` on a tiny random model folder (no text tower, no stage-1 tower).</summary>
public class EvalShapesCommandTests
{
    [Fact]
    public async Task PrintsTheTableAndTheJsonObjectAsTheLastLine()
    {
        using var dir = new TempDir();
        string model = TinyModel.Write(dir.File("tiny"));
        string answers = dir.File("answers.jsonl");
        var (exit, stdout, stderr) = await CliRunner.RunAsync("eval", "shapes", "--model", model, "--scenes", "2", "--threads", "1",
            "--parallel", "4", "--json", "--answers", answers);
        Assert.True(exit == 0, stderr);
        Assert.Contains("| mask |", stdout);
        Assert.Contains("n/a (no text tower)", stdout);
        Assert.Contains("eval shapes: answers", stderr);   // progress goes to stderr, not into the table

        var json = JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!.AsObject();
        foreach (var (group, keys) in new[]
                 {
                     ("caption_exact", new[] { "mask", "box", "whole" }), ("cider", ["mask", "box", "whole"]),
                     ("qa", ["color", "shape", "size", "count"]),
                 })
            foreach (var key in keys) Assert.InRange(json[group]![key]!.GetValue<double>(), 0.0, 1.0);
        // No text tower: zero-shot cannot be measured, and says so with nulls rather than zeros.
        var zeroShot = json["zero_shot"]!.AsObject();
        Assert.Equal(["alpha_box", "alpha_mask", "alpha_whole", "clip_whole"], zeroShot.Select(kv => kv.Key).Order());
        Assert.All(zeroShot, kv => Assert.Null(kv.Value));
        Assert.Equal(2, (int)json["scenes"]!);

        // One JSONL record per generation: 2 whole-image questions per scene, 5 per object.
        var records = File.ReadAllLines(answers).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal((int)json["generations"]!, records.Count);
        Assert.Equal(2 * 2 + 5 * (int)json["regions"]!, records.Count);
        Assert.All(records, r => Assert.NotNull(r["answer"]));
    }

    [Theory]
    [InlineData("--scenes", "0", "--scenes must be in 1..100000")]
    [InlineData("--parallel", "0", "--parallel must be in 1..256")]
    [InlineData("--seed", "-5", "--seed must be ≥ 0")]
    public async Task BadArgumentsFailWithOneClearLine(string option, string value, string expected)
    {
        using var dir = new TempDir();
        var (exit, _, stderr) = await CliRunner.RunAsync("eval", "shapes", "--model", dir.Path, option, value);
        Assert.Equal(2, exit);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(expected, stderr);
    }

    [Fact]
    public async Task AFolderWithoutAModelSaysSo()
    {
        using var dir = new TempDir();
        var (exit, _, stderr) = await CliRunner.RunAsync("eval", "shapes", "--model", dir.Path, "--scenes", "1");
        Assert.Equal(1, exit);
        Assert.Contains("no model.json", stderr);
    }
}
