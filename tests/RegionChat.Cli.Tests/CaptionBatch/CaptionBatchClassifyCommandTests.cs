using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>`caption-batch --task classify --labels-file F [--top K]` (issue 18) in-process on shapes-tiny: one JSON line
/// per item with its top labels, error records for bad items, usage errors with exit 2.</summary>
public sealed class CaptionBatchClassifyCommandTests
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    [Fact]
    public async Task EveryGoodItemGetsItsTopLabelsAndEveryBadOneAnErrorRecord()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"));
        string labels = temp.File("labels.txt");
        File.WriteAllLines(labels, ["# the captions of the first scene's objects, and two more",
            .. ShapesGenerator.Generate(1_000_000_321).Objects.Select(o => o.Caption).Distinct(), "a small blue cross", "a large green square"]);
        string output = temp.File("labels.jsonl");
        string[] args = ["caption-batch", "--task", "classify", "--labels-file", labels, "--top", "2", "--input", data.InputPath, "--output", output,
            "--model", ShapesTiny, "--concurrency", "2", "--threads", "1"];

        var run = await CliRunner.RunAsync(args);

        Assert.True(run.Exit == 1, $"exit {run.Exit} (bad items must make it 1): {run.Err}");
        var byId = BatchDataset.ReadRecords(output).ToDictionary(r => (string)r["id"]!);
        Assert.Equal(data.AllIds.Order(), byId.Keys.Order());
        foreach (var id in data.GoodIds)
        {
            var ranked = Assert.IsType<JsonArray>(byId[id]["labels"]);
            Assert.Equal(2, ranked.Count);
            Assert.All(ranked, l => Assert.Equal(["label", "p"], l!.AsObject().Select(p => p.Key)));
            Assert.Equal("shapes-tiny", (string?)byId[id]["model"]);
        }
        Assert.Equal(ShapesGenerator.Generate(1_000_000_321).Objects[0].Caption, (string?)byId["mask"]["labels"]![0]!["label"]);
        foreach (var (id, expected) in BatchDataset.BadItems) Assert.Contains(expected, (string?)byId[id]["error"]);
        Assert.Contains($"{data.GoodIds.Count} classified, {BatchDataset.BadItems.Count} failed, 0 already done, 0 left", run.Out);

        byte[] before = File.ReadAllBytes(output);
        var again = await CliRunner.RunAsync(args);
        Assert.Equal(before, File.ReadAllBytes(output));
        Assert.Contains($"0 classified, 0 failed, {data.AllIds.Count} already done", again.Out);
    }

    [Theory]
    [InlineData("no-labels", "--task classify needs --labels-file")]
    [InlineData("missing-file", "--labels-file: file")]
    [InlineData("labels-for-captions", "--labels-file is for --task classify")]
    [InlineData("top", "--top must be >= 0")]
    public async Task BadArgumentsExitWithTwoAndOneLine(string what, string expected)
    {
        using var temp = new TempDir();
        string input = temp.File("items.jsonl");
        File.WriteAllText(input, "{\"id\": \"a\", \"image\": \"x.png\", \"region\": {\"whole\": true}}\n");
        string labels = temp.File("labels.txt");
        File.WriteAllText(labels, "a large red circle\n");
        string output = temp.File("out.jsonl");
        string[] common = ["caption-batch", "--input", input, "--output", output, "--model", ShapesTiny];
        string[] args = what switch
        {
            "no-labels" => [.. common, "--task", "classify"],
            "missing-file" => [.. common, "--task", "classify", "--labels-file", temp.File("nope.txt")],
            "labels-for-captions" => [.. common, "--labels-file", labels],
            _ => [.. common, "--task", "classify", "--labels-file", labels, "--top", "-1"],
        };
        var run = await CliRunner.RunAsync(args);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: ", run.Err);
        Assert.Contains(expected, run.Err);
        Assert.False(File.Exists(output) && new FileInfo(output).Length > 0, "nothing may be written");
    }
}
