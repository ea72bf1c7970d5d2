using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.CaptionBatch.Internal;
using RegionChat.Data.Batch;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>A worker whose item throws something unforeseen stops the job, with what was written kept: the other
/// workers used to wait forever for that item, since it was never resolved.</summary>
public sealed class JobWorkersTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task AnItemThatThrowsStopsTheJobInsteadOfLeavingTheOthersWaiting()
    {
        var items = Enumerable.Range(0, 12).Select(i =>
            new WorkItem(new BatchInputItem($"i{i}", "x.png", JsonDocument.Parse("""{"whole": true}""").RootElement.Clone(), null, i + 1))).ToArray();
        string output = temp.File("out.jsonl");
        using (var writer = ResumableJsonlWriter.Open(output, 1))
        using (var job = new JobState(new CaptionBatchOptions { InputPath = "in.jsonl", OutputPath = output }, temp.Path, items.Length, 0,
                   writer, null, items, null, null, CancellationToken.None))
        {
            var run = JobWorkers.RunAsync(job, 3, async (item, ct) =>
            {
                await Task.Yield();
                if (item.Id == "i5") throw new InvalidOperationException("the engine broke");
                job.Captioned(item, "a caption", "m", new JsonObject());
            });
            await run.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.NotNull(job.AbortMessage);
            Assert.Contains("'i5'", job.AbortMessage);
            Assert.Contains("InvalidOperationException: the engine broke", job.AbortMessage);
            Assert.IsType<InvalidOperationException>(job.AbortCause);
            Assert.True(job.Token.IsCancellationRequested);
        }
        var written = BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).ToArray();
        Assert.NotEmpty(written);
        Assert.DoesNotContain("i5", written);
    }
}
