using System.CommandLine;
using System.Text.Json.Nodes;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;

namespace RegionChat.Cli.Tests;

/// <summary>The stage factories mounted the way the catalog's `train` / `eval` groups will mount them, run in-process.</summary>
public class TrainClipCommandsTests
{
    static readonly string[] Tiny =
    [
        "--steps", "2", "--batch", "4", "--threads", "1", "--scene-pool", "4", "--eval-scenes", "2", "--checkpoint-every", "1",
    ];

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand("test");
        var train = new Command("train");
        train.Subcommands.Add(TrainClipCommands.CreateClipStage());
        train.Subcommands.Add(TrainClipCommands.CreateAlphaStage());
        var eval = new Command("eval");
        eval.Subcommands.Add(TrainClipCommands.CreateZeroShot());
        root.Subcommands.Add(train);
        root.Subcommands.Add(eval);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Both_stages_train_resume_and_evaluate_from_the_command_line()
    {
        using var dir = new TempDir();
        string stage1 = dir.File("stage1"), stage2 = dir.File("stage2");
        string[] small = ["--patch", "16", "--width", "32", "--layers", "1", "--heads", "2", "--output-dim", "16",
            "--text-width", "32", "--text-layers", "1", "--text-heads", "2"];

        var (code, output, error) = Run(["train", "clip", "--out", stage1, .. Tiny, .. small]);
        Assert.True(code == 0, error);
        Assert.Contains("clip: step 2/2 done", output);
        Assert.Contains("clip [", error);                       // the progress bar goes to stderr
        Assert.True(ClipTowerFiles.Exist(stage1));
        var vision = JsonNode.Parse(File.ReadAllText(Path.Combine(stage1, ClipTowerFiles.VisionConfig)))!;
        Assert.Equal(32, (int)vision["width"]!);
        Assert.Equal(2, (int)vision["heads"]!);

        (code, output, error) = Run(["train", "alpha-clip", "--from", stage1, "--out", stage2, "--stop-at", "1", .. Tiny]);
        Assert.True(code == 0, error);
        Assert.Contains("step 1/2 stopped", output);
        (code, output, error) = Run(["train", "alpha-clip", "--out", stage2, .. Tiny]);
        Assert.True(code == 0, error);
        Assert.Contains("resuming", output);
        Assert.Contains("alpha-clip: step 2/2 done", output);

        (code, output, error) = Run("eval", "zero-shot", "--model", stage2, "--scenes", "3", "--threads", "1", "--json");
        Assert.True(code == 0, error);
        var report = JsonNode.Parse(output)!;
        Assert.Equal(3, (int)report["scenes"]!);
        foreach (string mode in new[] { "whole", "box", "mask" }) Assert.InRange((double)report[mode]!["top1"]!, 0, 1);
    }

    [Fact]
    public void Bad_input_gives_one_clear_error_line()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run(["train", "clip", "--out", dir.File("a"), "--batch", "1"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: batch size 1", error.Trim());

        (code, _, error) = Run(["train", "alpha-clip", "--out", dir.File("b"), "--from", dir.Path, .. Tiny]);
        Assert.Equal(1, code);
        Assert.Contains("does not hold a stage-1 model", error);

        (code, _, error) = Run("eval", "zero-shot", "--model", dir.Path, "--modes", "mask,edge");
        Assert.Equal(1, code);
        Assert.Contains("'edge'", error);

        (code, _, error) = Run("eval", "zero-shot", "--model", dir.Path, "--scenes", "2");
        Assert.Equal(1, code);
        Assert.Contains("not found", error);
    }
}
