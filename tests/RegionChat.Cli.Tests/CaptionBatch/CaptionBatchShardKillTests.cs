using System.Diagnostics;
using System.Text;
using RegionChat.CaptionBatch;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>
/// `caption-batch --shard I/N` over 3 shards against a real server, one shard a child process killed hard (SIGKILL)
/// mid-run and rerun, then `caption-batch merge`: every id of the input exactly once. And the verbs' usage errors.
/// </summary>
public sealed class CaptionBatchShardKillTests(TinyServerFixture fx, ITestOutputHelper log) : IClassFixture<TinyServerFixture>
{
    [Fact]
    public async Task ThreeShardsOneKilledAndRerunThenMergedHoldEveryIdExactlyOnce()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), repeat: 12, withBadItems: false); // 120 items
        string[] outputs = [.. Enumerable.Range(0, 3).Select(i => temp.File($"shard-{i}.jsonl"))];
        string[] Args(int i) => ["caption-batch", "--input", data.InputPath, "--output", outputs[i], "--server", fx.Url, "--max-tokens", "6",
            "--concurrency", "4", "--shard", $"{i}/3"];
        int ShardSize(int i) => data.GoodIds.Count(id => CaptionBatchShard.ShardOf(id, 3) == i);

        // Shard 1 runs as a child process and is killed -9 once it has written a few lines (~250 bytes each; the file is
        // only measured while the child holds it exclusively).
        using (var child = Start(Args(1)[1..], out var stderr))
        {
            var clock = Stopwatch.StartNew();
            while ((File.Exists(outputs[1]) ? new FileInfo(outputs[1]).Length : 0) < 1500)
            {
                Assert.False(child.HasExited, $"the shard finished (exit {(child.HasExited ? child.ExitCode : 0)}) before the kill: {stderr}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"no progress before the kill: {stderr}");
                await Task.Delay(5);
            }
            child.Kill(entireProcessTree: true);
            Assert.True(child.WaitForExit(30_000), "the killed shard did not exit");
            child.WaitForExit(); // drain the redirected streams
            Assert.Contains("shard 1/3: ", stderr.ToString());
        }
        int afterKill = LineCount(outputs[1]);
        log.WriteLine($"shard 1 killed with {afterKill} of its {ShardSize(1)} lines written");
        Assert.True(afterKill < ShardSize(1), "shard 1 was done before the kill");

        // The other shards run to their end meanwhile (in-process), then shard 1 is rerun and resumes.
        for (int i = 0; i < 3; i++)
        {
            var run = await CliRunner.RunAsync(Args(i));
            Assert.True(run.Exit == 0, $"shard {i}: exit {run.Exit}: {run.Err}");
            int skipped = i == 1 ? afterKill : 0;
            Assert.Contains($"done: shard {i}/3: {ShardSize(i) - skipped} captioned, 0 failed, {skipped} already done, 0 left of {ShardSize(i)} items",
                run.Out);
            Assert.Equal(data.GoodIds.Where(id => CaptionBatchShard.ShardOf(id, 3) == i).Order(),
                BatchDataset.ReadRecords(outputs[i]).Select(r => (string)r["id"]!).Order());
        }

        var merge = await CliRunner.RunAsync(["caption-batch", "merge", "--output", temp.File("all.jsonl"), .. outputs, "--input", data.InputPath]);

        Assert.True(merge.Exit == 0, $"exit {merge.Exit}: {merge.Err}");
        Assert.Contains($"merged {data.GoodIds.Count} ids ({data.GoodIds.Count} captions, 0 errors) from 3 files into {temp.File("all.jsonl")}", merge.Out);
        Assert.Contains($"input: {data.GoodIds.Count} of {data.GoodIds.Count} ids have a record, 0 missing", merge.Out);
        var records = BatchDataset.ReadRecords(temp.File("all.jsonl"));
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order()); // every id exactly once
        Assert.All(records, r => Assert.Null(r["error"]));
    }

    [Fact]
    public async Task MergeRefusesDisagreeingRecordsAndReportsMissingIds()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string a = temp.File("a.jsonl"), b = temp.File("b.jsonl");
        File.WriteAllText(a, string.Concat(data.GoodIds.Skip(1).Select(id => $"{{\"id\":\"{id}\",\"caption\":\"x\"}}\n")));
        File.WriteAllText(b, $"{{\"id\":\"{data.GoodIds[1]}\",\"caption\":\"y\"}}\n");

        var conflict = await CliRunner.RunAsync("caption-batch", "merge", "--output", temp.File("all.jsonl"), a, b);
        Assert.True(conflict.Exit == 1, conflict.Err);
        Assert.Contains($"error: 1 id has records that disagree, nothing was written to {temp.File("all.jsonl")}", conflict.Err);
        Assert.False(File.Exists(temp.File("all.jsonl")));

        var missing = await CliRunner.RunAsync("caption-batch", "merge", "--output", temp.File("all.jsonl"), a, "--input", data.InputPath);
        Assert.True(missing.Exit == 1, missing.Err);
        Assert.Contains($"error: 1 ids of the input have no record, e.g. \"{data.GoodIds[0]}\"", missing.Err);
        Assert.Equal(data.GoodIds.Count - 1, BatchDataset.ReadRecords(temp.File("all.jsonl")).Count); // written all the same

        var usage = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", temp.File("s.jsonl"), "--server", fx.Url,
            "--shard", "3/3");
        Assert.Equal(2, usage.Exit);
        Assert.Contains("error: --shard must be I/N with 0 <= I < N", usage.Err);
    }

    static int LineCount(string path) => File.Exists(path) ? File.ReadAllBytes(path).Count(b => b == (byte)'\n') : 0;

    static Process Start(string[] args, out StringBuilder stderr)
    {
        var start = CliRunner.ChildProcessStart(["caption-batch", .. args]);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start regionchat");
        var err = new StringBuilder();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (err) err.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        stderr = err;
        return process;
    }
}
