using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>`caption-batch --task embed` in-process on shapes-tiny: one vector per good item, error records for bad
/// ones, the summary's count; options of the other tasks refused with exit 2.</summary>
public sealed class CaptionBatchEmbedCommandTests
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    [Fact]
    public async Task EveryGoodItemGetsAVectorAndEveryBadOneAnErrorRecord()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"));
        string output = temp.File("vectors.jsonl");
        var run = await CliRunner.RunAsync("caption-batch", "--task", "embed", "--input", data.InputPath, "--output", output,
            "--model", ShapesTiny, "--concurrency", "2", "--threads", "1");

        Assert.True(run.Exit == 1, $"exit {run.Exit} (bad items must make it 1): {run.Err}");
        var byId = BatchDataset.ReadRecords(output).ToDictionary(r => (string)r["id"]!);
        Assert.Equal(data.AllIds.Order(), byId.Keys.Order());
        foreach (var id in data.GoodIds)
        {
            Assert.Equal(["id", "embedding", "model", "timings"], byId[id].AsObject().Select(p => p.Key));
            Assert.Equal(128, byId[id]["embedding"]!.AsArray().Count);
        }
        foreach (var (id, expected) in BatchDataset.BadItems) Assert.Contains(expected, (string?)byId[id]["error"]);
        Assert.Contains($"{data.GoodIds.Count} embedded, {BatchDataset.BadItems.Count} failed, 0 already done, 0 left", run.Out);
    }

    [Theory]
    [InlineData("--instruction", "--instruction is for --task caption")]
    [InlineData("--logprobs", "--logprobs is for --task caption")]
    [InlineData("--labels-file", "--labels-file is for --task classify")]
    [InlineData("--labels-file empty", "--labels-file is for --task classify")]
    public async Task OptionsOfTheOtherTasksExitWithTwo(string option, string expected)
    {
        using var temp = new TempDir();
        string input = temp.File("items.jsonl");
        File.WriteAllText(input, "{\"id\": \"a\", \"image\": \"x.png\", \"region\": {\"whole\": true}}\n");
        string labels = temp.File("labels.txt");
        File.WriteAllText(labels, "a large red circle\n");
        string empty = temp.File("empty.txt");
        File.WriteAllText(empty, "# no labels\n");
        string output = temp.File("out.jsonl");
        string[] extra = option switch
        {
            "--instruction" => [option, "Describe it."],
            "--labels-file" => [option, labels],
            "--labels-file empty" => ["--labels-file", empty],
            _ => [option],
        };
        var run = await CliRunner.RunAsync(["caption-batch", "--task", "embed", "--input", input, "--output", output, "--model", ShapesTiny, .. extra]);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: ", run.Err);
        Assert.Contains(expected, run.Err);
        Assert.False(File.Exists(output) && new FileInfo(output).Length > 0, "nothing may be written");
    }
}
