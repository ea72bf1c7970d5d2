using System.CommandLine;
using System.Text.Json;
using RegionChat.Cli.Commands;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat llm compare` on tiny GGUFs written by the synth.</summary>
public sealed class LlmCompareCommandTests : IDisposable
{
    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    string TinyModel(GgmlType type)
    {
        var vocab = LlamaVocabulary.BuiltInEnglish();
        var shape = new LlamaShape(EmbeddingLength: 64, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 128, VocabSize: vocab.Count, ContextLength: 128);
        string path = dir.File($"tiny-{type}.gguf");
        LlamaGgufSynth.Write(path, shape, vocab, type, seed: 5);
        return path;
    }

    static (int Exit, string Out, string Err) Run(params string[] args)
    {
        // The verbs as the regionchat executable registers them.
        var root = new RootCommand();
        foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void ReportsTinyDifferencesForAnF32Model()
    {
        var (exit, stdout, stderr) = Run("llm", "compare", "--gguf", TinyModel(GgmlType.F32), "--tokens", "12", "--embeddings", "5", "--seed", "4", "--json");
        Assert.True(exit == 0, stderr);
        Assert.Contains("tokens + embeddings (12 + 5)", stdout);
        var last = stdout.TrimEnd().Split('\n')[^1];
        using var doc = JsonDocument.Parse(last);
        var r = doc.RootElement;
        Assert.Equal(12, r.GetProperty("tokens").GetInt32());
        Assert.Equal(5, r.GetProperty("embeddings").GetInt32());
        foreach (var key in new[] { "token", "mixed" })
        {
            Assert.True(r.GetProperty($"{key}_max_logit").GetDouble() > 0.1);
            Assert.InRange(r.GetProperty($"{key}_max_abs").GetDouble(), 0, 1e-3);
            Assert.InRange(r.GetProperty($"{key}_max_rel").GetDouble(), 0, 1e-4);
        }
    }

    [Fact]
    public void FailAboveTurnsAQuantisationGapIntoExitCode3()
    {
        // llama.cpp multiplies Q8_0 weights with Q8_0-quantised activations; the twin uses f32 activations.
        var (exit, stdout, stderr) = Run("llm", "compare", "--gguf", TinyModel(GgmlType.Q8_0), "--tokens", "6", "--embeddings", "2", "--fail-above", "1e-6", "--json");
        Assert.Equal(3, exit);
        Assert.Contains("relative logit difference above", stderr);
        using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        Assert.True(doc.RootElement.GetProperty("token_max_rel").GetDouble() > 1e-6);
    }

    [Fact]
    public void BadInputGivesOneErrorLineAndNonZeroExit()
    {
        var missing = Run("llm", "compare", "--gguf", dir.File("absent.gguf"));
        Assert.Equal(1, missing.Exit);
        Assert.StartsWith("error: ", missing.Err);
        Assert.Contains("absent.gguf", missing.Err);

        string junk = dir.File("junk.gguf");
        File.WriteAllBytes(junk, Enumerable.Range(0, 4096).Select(i => (byte)(i * 31)).ToArray());
        var corrupt = Run("llm", "compare", "--gguf", junk);
        Assert.Equal(1, corrupt.Exit);
        Assert.Contains("not a GGUF", corrupt.Err);

        var tooFew = Run("llm", "compare", "--gguf", TinyModel(GgmlType.F32), "--tokens", "1");
        Assert.Equal(2, tooFew.Exit);
        Assert.Contains("at least 2 tokens", tooFew.Err);
    }
}
