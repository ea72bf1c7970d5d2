using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat caption --choice … | --json | --json-schema F | --regex P` on shapes-tiny, in-process.</summary>
public sealed class CaptionCommandFormatTests
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    [Fact]
    public async Task TheAnswerKeepsTheFormatAsked()
    {
        using var temp = new TempDir();
        var scene = ShapesGenerator.Generate(1_000_000_777);
        string image = temp.File("scene.png"), mask = temp.File("mask.png");
        scene.SavePng(image);
        var target = scene.Objects[1];
        ShapesPng.SaveMaskPng(target.VisibleMask, mask);
        string[] common = ["caption", "--model", ShapesTiny, "--image", image, "--mask", mask, "--threads", "1"];
        string[] others = scene.Objects.Select(o => o.Caption).Where(c => c != target.Caption).Distinct().ToArray();

        var own = await CliRunner.RunAsync([.. common, "--choice", others[0], "--choice", target.Caption]);
        Assert.True(own.Exit == 0, own.Err);
        Assert.Equal(target.Caption, own.Out.Trim());
        var forced = await CliRunner.RunAsync([.. common, .. others.SelectMany(o => new[] { "--choice", o })]);
        Assert.Contains(forced.Out.Trim(), others);

        var json = await CliRunner.RunAsync([.. common, "--json", "--max-tokens", "64"]);
        Assert.True(json.Exit == 0 && JsonPrefix.IsObjectSoFar(json.Out.Trim()) && json.Out.TrimStart().StartsWith('{'), json.Out + json.Err);

        string schema = temp.File("schema.json");
        File.WriteAllText(schema, """{"enum": ["yes", "no"]}""");
        var schemaRun = await CliRunner.RunAsync([.. common, "--json-schema", schema]);
        Assert.Contains(schemaRun.Out.Trim(), new[] { "\"yes\"", "\"no\"" });

        var both = await CliRunner.RunAsync([.. common, "--json", "--choice", "a"]);
        Assert.Equal(2, both.Exit);
        Assert.Contains("give one of --json, --json-schema, --choice and --regex", both.Err);
        var matched = await CliRunner.RunAsync([.. common, "--regex", "(a )?(small|large) [a-z]+ [a-z]+"]);
        Assert.Equal(target.Caption, matched.Out.Trim());
        var badRegex = await CliRunner.RunAsync([.. common, "--regex", "a{2000}"]);
        Assert.Equal(2, badRegex.Exit);
        Assert.Contains("--regex: format.regex: pattern: at character 2", badRegex.Err);
        File.WriteAllText(schema, """{"type": "string", "format": "date"}""");
        var unsupported = await CliRunner.RunAsync([.. common, "--json-schema", schema]);
        Assert.Equal(2, unsupported.Exit);
        Assert.Contains("schema.format", unsupported.Err);
    }
}
