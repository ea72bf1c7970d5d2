using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>A job run in-process on the tiny model, through the library (no CLI): every id once, bad items as error
/// records naming why, and a rerun that finds everything done.</summary>
public sealed class CaptionBatchJobTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task InProcessEveryIdEndsUpOnceAndARerunFindsThemDone()
    {
        var data = BatchDataset.Write(temp.File("data"));
        var options = new CaptionBatchOptions
        {
            InputPath = data.InputPath,
            OutputPath = temp.File("captions.jsonl"),
            ErrorsPath = temp.File("errors.jsonl"),
            ModelDir = ServerHost.TinyModelFolder,
            Concurrency = 4,
            MaxTokens = 6,
            Threads = 1,
            ContextSize = 2048,
        };
        var seen = new List<CaptionBatchProgress>();

        var summary = await CaptionBatchJob.RunAsync(options, progress: p => { lock (seen) seen.Add(p); });

        var captions = BatchDataset.ReadRecords(options.OutputPath);
        var errors = BatchDataset.ReadRecords(options.ErrorsPath);
        Assert.Equal(data.GoodIds.Order(), captions.Select(r => (string)r["id"]!).Order());
        Assert.All(captions, r => Assert.Equal("tiny", (string?)r["model"]));
        Assert.Equal(BatchDataset.BadItems.Keys.Order(), errors.Select(r => (string)r["id"]!).Order());
        foreach (var r in errors) Assert.Contains(BatchDataset.BadItems[(string)r["id"]!], (string)r["error"]!);
        Assert.Equal((data.GoodIds.Count, BatchDataset.BadItems.Count, 0), (summary.Progress.Captioned, summary.Progress.Failed, summary.Progress.Skipped));
        Assert.True(summary.Complete);
        Assert.True(summary.AnyFailed);
        Assert.Equal(["tiny"], summary.Models);
        Assert.Empty(summary.Servers);
        Assert.Equal(data.AllIds.Count, seen.Count); // one progress report per finished item
        Assert.Equal(data.AllIds.Count, seen.Max(p => p.Done));

        byte[] before = File.ReadAllBytes(options.OutputPath);
        var again = await CaptionBatchJob.RunAsync(options);
        Assert.Equal((0, 0, data.AllIds.Count), (again.Progress.Captioned, again.Progress.Failed, again.Progress.Skipped));
        Assert.Equal(BatchDataset.BadItems.Count, again.PriorErrors);
        Assert.True(again.AnyFailed);
        Assert.Equal(before, File.ReadAllBytes(options.OutputPath));
    }

    [Fact]
    public async Task AnOutputOfAnotherTaskIsRefusedBeforeAnyWork()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string output = temp.File("captions.jsonl");
        string before = $$"""{"id": "{{data.GoodIds[0]}}", "caption": "a red circle", "model": "m"}""" + "\n";
        File.WriteAllText(output, before);

        // --task embed on a caption job's output would skip that id as done and mix two kinds of record.
        var e = await Assert.ThrowsAsync<ArgumentException>(() => CaptionBatchJob.RunAsync(new CaptionBatchOptions
        {
            TaskKind = CaptionBatchTask.Embed,
            InputPath = data.InputPath,
            OutputPath = output,
            Servers = ["http://127.0.0.1:9"],
        }));
        Assert.Contains("\"caption\" records", e.Message);
        Assert.Contains("--task embed", e.Message);
        Assert.Equal(before, File.ReadAllText(output));
    }

    [Fact]
    public async Task ResumingWithAnotherModelStopsBeforeWritingItsAnswers()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string output = temp.File("captions.jsonl");
        string before = $$"""{"id": "{{data.GoodIds[0]}}", "caption": "a red circle", "model": "another-model"}""" + "\n";
        File.WriteAllText(output, before);

        var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(new CaptionBatchOptions
        {
            InputPath = data.InputPath,
            OutputPath = output,
            ModelDir = ServerHost.TinyModelFolder,
            Concurrency = 2,
            MaxTokens = 4,
            Threads = 1,
            ContextSize = 2048,
        }));
        Assert.Contains("'another-model'", e.Message);
        Assert.Contains("model 'tiny'", e.Message);
        Assert.True(e.Refused, "a rerun of the same command stops the same way");
        Assert.Equal(before, File.ReadAllText(output));
    }

    [Fact]
    public async Task AResumeWithOptionsThatShapeTheRecordsOtherwiseIsRefusedBeforeAnyWork()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        CaptionBatchOptions Options(int maxTokens, string? instruction, string? errors) => new()
        {
            InputPath = data.InputPath,
            OutputPath = temp.File("captions.jsonl"),
            ErrorsPath = errors,
            ModelDir = ServerHost.TinyModelFolder,
            Concurrency = 4,
            MaxTokens = maxTokens,
            Instruction = instruction,
            Threads = 1,
            ContextSize = 2048,
        };
        var first = Options(4, "name the shape", temp.File("errors.jsonl"));
        await CaptionBatchJob.RunAsync(first);
        string written = File.ReadAllText(first.OutputPath);
        Assert.True(File.Exists(first.OutputPath + ".job.json"));

        var longer = await Assert.ThrowsAsync<ArgumentException>(() => CaptionBatchJob.RunAsync(Options(6, "name the shape", first.ErrorsPath)));
        Assert.Contains("--max-tokens 4, now 6", longer.Message);
        var other = await Assert.ThrowsAsync<ArgumentException>(() => CaptionBatchJob.RunAsync(Options(4, "what colour is it?", first.ErrorsPath)));
        Assert.Contains("--instruction 'name the shape', now 'what colour is it?'", other.Message);
        // Without the first run's --errors, its failed items would be redone into the output.
        var noErrors = await Assert.ThrowsAsync<ArgumentException>(() => CaptionBatchJob.RunAsync(Options(4, "name the shape", null)));
        Assert.Contains("--errors", noErrors.Message);
        Assert.Equal(written, File.ReadAllText(first.OutputPath));

        var same = await CaptionBatchJob.RunAsync(first); // the same options resume (nothing is left)
        Assert.Equal(data.GoodIds.Count, same.Progress.Skipped);
    }

    [Fact]
    public async Task InProcessAMaxTokensTheModelRefusesStopsTheJobWithoutErrorRecords()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string output = temp.File("captions.jsonl");
        var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(new CaptionBatchOptions
        {
            InputPath = data.InputPath,
            OutputPath = output,
            ModelDir = ServerHost.TinyModelFolder,
            Concurrency = 2,
            MaxTokens = 5000, // over the core's MaxTokensLimit (4096)
            Threads = 1,
            ContextSize = 2048,
        }));
        Assert.StartsWith("--max-tokens: ", e.Message);
        Assert.True(e.Refused);
        Assert.Empty(BatchDataset.ReadRecords(output));
    }
}
