using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>`caption-batch --choices F | --json | --json-schema F | --regex P` in-process on shapes-tiny: every caption keeps the
/// format, JSON ones are parsed into the record, an answer cut before its JSON ends is an error record, and a rerun with
/// another format is refused (exit 2).</summary>
public sealed class CaptionBatchFormatCommandTests
{
    static readonly string ShapesTiny = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    static string[] Args(BatchDataset data, string output, params string[] more) =>
        ["caption-batch", "--input", data.InputPath, "--output", output, "--model", ShapesTiny, "--concurrency", "2", "--threads", "1", .. more];

    static Dictionary<string, JsonObject> Records(string output) => BatchDataset.ReadRecords(output).ToDictionary(r => (string)r["id"]!);

    [Fact]
    public async Task ChoicesKeepTheModelsOwnCaptionWhereItIsOneAndPickAnotherWhereItIsNot()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string free = temp.File("free.jsonl");
        Assert.Equal(0, (await CliRunner.RunAsync(Args(data, free))).Exit);
        var captions = Records(free).ToDictionary(r => r.Key, r => (string)r.Value["caption"]!);
        string left = captions["mask"];                      // one caption left out of the choices
        string[] choices = captions.Values.Where(c => c != left).Distinct().ToArray();
        string file = temp.File("choices.txt");
        File.WriteAllLines(file, ["# every other caption", .. choices]);

        string output = temp.File("chosen.jsonl");
        var run = await CliRunner.RunAsync(Args(data, output, "--choices", file));

        Assert.True(run.Exit == 0, run.Err);
        var chosen = Records(output);
        Assert.Equal(data.GoodIds.Order(), chosen.Keys.Order());
        foreach (var (id, record) in chosen)
        {
            string caption = (string)record["caption"]!;
            Assert.Contains(caption, choices);
            if (captions[id] != left) Assert.Equal(captions[id], caption);
            Assert.False(record.ContainsKey("json"));
        }
        Assert.NotEqual(left, (string)chosen["mask"]["caption"]!);

        var other = await CliRunner.RunAsync(Args(data, output, "--json"));
        Assert.Equal(2, other.Exit);
        Assert.Contains("answer format --choices", other.Err);
    }

    [Fact]
    public async Task ARegexKeepsEveryCaptionToItAndAResumeWithAnotherIsRefused()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string free = temp.File("free.jsonl");
        Assert.Equal(0, (await CliRunner.RunAsync(Args(data, free))).Exit);
        string output = temp.File("regex.jsonl");
        const string pattern = "(small|large) [a-z]+ (circle|square|triangle|star|cross|diamond|shape)";
        var run = await CliRunner.RunAsync(Args(data, output, "--regex", pattern));
        Assert.True(run.Exit == 0, run.Err);
        var records = Records(output);
        Assert.Equal(data.GoodIds.Order(), records.Keys.Order());
        Assert.All(records.Values, r => Assert.Matches("^" + pattern + "$", (string)r["caption"]!));
        var other = await CliRunner.RunAsync(Args(data, output, "--regex", pattern + "s?"));
        Assert.Equal(2, other.Exit);
        Assert.Contains("answer format --regex (a pattern of SHA-256", other.Err);
    }

    [Fact]
    public async Task JsonCaptionsAreParsedIntoTheirRecordsAndCutOnesAreErrors()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string schema = temp.File("attributes.json");
        File.WriteAllText(schema, JsonSerializer.Serialize(new
        {
            type = "object",
            properties = new
            {
                size = new { @enum = Enum.GetValues<ShapeSize>().Select(v => v.Word()) },
                shape = new { @enum = Enum.GetValues<ShapeKind>().Select(v => v.Word()) },
            },
            required = new[] { "size", "shape" },
        }));
        string output = temp.File("attributes.jsonl");
        var run = await CliRunner.RunAsync(Args(data, output, "--json-schema", schema, "--max-tokens", "200"));

        Assert.True(run.Exit == 0, run.Err);
        foreach (var (id, record) in Records(output))
        {
            var json = Assert.IsType<JsonObject>(record["json"]);
            Assert.Equal(["size", "shape"], json.Select(p => p.Key));
            Assert.Contains((string)json["shape"]!, Enum.GetValues<ShapeKind>().Select(v => v.Word()));
            Assert.Equal(json.ToJsonString(), JsonNode.Parse((string)record["caption"]!)!.ToJsonString());
        }

        string cut = temp.File("cut.jsonl");
        var shortRun = await CliRunner.RunAsync(Args(data, cut, "--json", "--max-tokens", "2"));
        Assert.Equal(1, shortRun.Exit);
        Assert.All(Records(cut).Values, r => Assert.Contains("ended before its JSON was whole (cut at --max-tokens 2?)", (string?)r["error"]));
    }

    [Theory]
    [InlineData("two", "give one of --json, --json-schema, --choices and --regex")]
    [InlineData("regex", "--regex: format.regex: pattern: at character 4: the escape \\1")]
    [InlineData("classify", "--json is for --task caption")]
    [InlineData("pattern", "--json-schema: format.json_schema: schema.pattern")]
    [InlineData("choice", "--choices: format.choices[0]")]
    public async Task BadFormatsExitWithTwo(string what, string expected)
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string schema = temp.File("schema.json");
        File.WriteAllText(schema, """{"type": "string", "pattern": "^a"}""");
        string choices = temp.File("choices.txt");
        File.WriteAllText(choices, new string('x', 300) + "\n");
        string labels = temp.File("labels.txt");
        File.WriteAllText(labels, "a large red circle\n");
        string output = temp.File("out.jsonl");
        string[] more = what switch
        {
            "two" => ["--json", "--choices", choices],
            "classify" => ["--json", "--task", "classify", "--labels-file", labels],
            "pattern" => ["--json-schema", schema],
            "regex" => ["--regex", "(a)\\1"],
            _ => ["--choices", choices],
        };
        var run = await CliRunner.RunAsync(Args(data, output, more));
        Assert.Equal(2, run.Exit);
        Assert.Contains(expected, run.Err);
        Assert.False(File.Exists(output) && new FileInfo(output).Length > 0);
    }
}
