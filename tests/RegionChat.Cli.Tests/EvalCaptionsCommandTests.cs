using System.CommandLine;
using System.Text.Json;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat eval captions` through the same command tree Program.cs builds.</summary>
public class EvalCaptionsCommandTests
{
    const double Tolerance = 1e-6;

    static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand("test");
        foreach (var c in CommandCatalog.All()) root.Subcommands.Add(c);
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Splits the golden into the two JSONL files the verb reads.</summary>
    static JsonElement WriteGoldenFiles(TempDir dir)
    {
        var golden = JsonDocument.Parse(File.ReadAllText(SharedFiles.Require("goldens/caption-metrics/dev.json"))).RootElement;
        using (var p = new StreamWriter(dir.File("pred.jsonl")))
        using (var r = new StreamWriter(dir.File("refs.jsonl")))
        {
            // References in reverse order: pairing must go by id, not by line.
            foreach (var item in golden.GetProperty("items").EnumerateArray())
                p.WriteLine(JsonSerializer.Serialize(new { id = item.GetProperty("id").GetString(), caption = item.GetProperty("candidate").GetString() }));
            foreach (var item in golden.GetProperty("items").EnumerateArray().Reverse())
                r.WriteLine(JsonSerializer.Serialize(new { id = item.GetProperty("id").GetString(), references = item.GetProperty("references") }));
        }
        return golden.GetProperty("corpus");
    }

    static void AssertJsonMatchesCorpus(string stdout, JsonElement corpus)
    {
        string last = stdout.TrimEnd().Split('\n')[^1];
        using var doc = JsonDocument.Parse(last);
        var bleu = doc.RootElement.GetProperty("bleu").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var expectedBleu = corpus.GetProperty("bleu").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(4, bleu.Length);
        for (int k = 0; k < 4; k++) Assert.Equal(expectedBleu[k], bleu[k], Tolerance);
        Assert.Equal(corpus.GetProperty("rouge_l").GetDouble(), doc.RootElement.GetProperty("rouge_l").GetDouble(), Tolerance);
        Assert.Equal(corpus.GetProperty("cider").GetDouble(), doc.RootElement.GetProperty("cider").GetDouble(), Tolerance);
    }

    [SkippableFact]
    public void Pretokenized_golden_gives_the_reference_corpus_scores()
    {
        using var dir = new TempDir();
        var corpus = WriteGoldenFiles(dir);
        var (exit, stdout, stderr) = Run("eval", "captions", "--predictions", dir.File("pred.jsonl"),
            "--references", dir.File("refs.jsonl"), "--json", "--pretokenized");
        Assert.True(exit == 0, stderr);
        Assert.Contains("items: 40", stdout);
        Assert.Contains("CIDEr-D: ", stdout);
        Assert.Contains(EvalCommands.MeteorNotice, stdout);
        Assert.DoesNotMatch(@"METEOR: \d", stdout);
        AssertJsonMatchesCorpus(stdout, corpus);
    }

    [SkippableFact]
    public void Default_ptb_tokenization_gives_the_same_scores_on_clean_captions()
    {
        using var dir = new TempDir();
        var corpus = WriteGoldenFiles(dir);
        var (exit, stdout, stderr) = Run("eval", "captions", "--predictions", dir.File("pred.jsonl"),
            "--references", dir.File("refs.jsonl"), "--json");
        Assert.True(exit == 0, stderr);
        Assert.Contains("PTB-style", stdout);
        AssertJsonMatchesCorpus(stdout, corpus);
    }

    [Fact]
    public void Text_output_without_json_has_every_metric_and_no_json_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"1\", \"caption\": \"A red car.\"}\n{\"id\": \"2\", \"caption\": \"a dog\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"1\", \"references\": [\"a red car\"]}\n{\"id\": \"2\", \"references\": [\"the cat\"]}\n");
        var (exit, stdout, _) = Run("eval", "captions", "--predictions", dir.File("p.jsonl"), "--references", dir.File("r.jsonl"));
        Assert.Equal(0, exit);
        foreach (var label in new[] { "BLEU-1: ", "BLEU-2: ", "BLEU-3: ", "BLEU-4: ", "ROUGE-L: ", "CIDEr-D: " })
            Assert.Contains(label, stdout);
        Assert.DoesNotContain("{", stdout);
        // "A red car." tokenises to "a red car", its reference exactly (ROUGE-L 1); item 2 ("a dog" vs "the cat")
        // shares no token (ROUGE-L 0), so the mean is exactly 0.5.
        Assert.Contains("ROUGE-L: 0.5000", stdout);
    }

    [Fact]
    public void Missing_ids_are_named_on_stderr_with_a_nonzero_exit()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"1\", \"caption\": \"x\"}\n{\"id\": \"orphan-pred\", \"caption\": \"x\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"1\", \"references\": [\"x\"]}\n{\"id\": \"orphan-ref\", \"references\": [\"x\"]}\n");
        var (exit, stdout, stderr) = Run("eval", "captions", "--predictions", dir.File("p.jsonl"), "--references", dir.File("r.jsonl"));
        Assert.NotEqual(0, exit);
        Assert.Contains("\"orphan-pred\"", stderr);
        Assert.Contains("\"orphan-ref\"", stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void Malformed_line_is_reported_with_its_number()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"1\", \"caption\": \"x\"}\n\n{\"id\": \"2\", caption: \"y\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"1\", \"references\": [\"x\"]}\n");
        var (exit, _, stderr) = Run("eval", "captions", "--predictions", dir.File("p.jsonl"), "--references", dir.File("r.jsonl"));
        Assert.NotEqual(0, exit);
        Assert.Contains("p.jsonl line 3: not valid JSON", stderr);
    }

    [Fact]
    public void Missing_file_is_a_one_line_error()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"1\", \"references\": [\"x\"]}\n");
        var (exit, _, stderr) = Run("eval", "captions", "--predictions", dir.File("nope.jsonl"), "--references", dir.File("r.jsonl"));
        Assert.NotEqual(0, exit);
        Assert.Contains("nope.jsonl not found", stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Pretokenized_input_with_tabs_is_refused_naming_the_id()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"t1\", \"caption\": \"a\\tb\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"t1\", \"references\": [\"a b\"]}\n");
        var (exit, _, stderr) = Run("eval", "captions", "--predictions", dir.File("p.jsonl"), "--references", dir.File("r.jsonl"), "--pretokenized");
        Assert.NotEqual(0, exit);
        Assert.Contains("id \"t1\"", stderr);
    }
}
