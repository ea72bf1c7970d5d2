using System.Diagnostics;
using System.Text;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>
/// The real `regionchat caption-batch` as a child process, killed hard (SIGKILL) at random points three times and
/// restarted: in the end every id is in the output exactly once and every line is whole.
/// </summary>
/// <remarks>
/// A SIGKILL practically never lands inside the single write(2) of a line, so when a kill leaves a clean file the test
/// appends what a kill mid-write would leave (a prefix of a record for an id not yet done) and checks that the restart
/// removes exactly those bytes and still captions that id once.
/// </remarks>
public sealed class CaptionBatchKillTests(TinyServerFixture fx, ITestOutputHelper log) : IClassFixture<TinyServerFixture>
{
    [Fact]
    public async Task KilledThreeTimesAndRestartedEveryIdAppearsExactlyOnce()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), repeat: 40, withBadItems: false); // 400 items: enough that no kill comes after the last
        string output = temp.File("out.jsonl");
        var random = new Random(20261127);
        long expectedRepair = 0;

        for (int kill = 0; kill < 3; kill++)
        {
            int before = LineCount(output);
            long size = File.Exists(output) ? new FileInfo(output).Length : 0;
            double lineBytes = before > 0 ? (double)size / before : 250;
            // Kill once the child has written a random number of further lines (and a random few ms on top).
            long threshold = size + (long)(random.Next(8, 30) * lineBytes);
            using var child = Start(data.InputPath, output, out var stderr);
            var clock = Stopwatch.StartNew();
            while ((File.Exists(output) ? new FileInfo(output).Length : 0) < threshold)
            {
                Assert.False(child.HasExited, $"the job finished (exit {(child.HasExited ? child.ExitCode : 0)}) before kill {kill + 1}: {stderr}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"no progress before kill {kill + 1}: {stderr}");
                await Task.Delay(5);
            }
            await Task.Delay(random.Next(0, 40));
            child.Kill(entireProcessTree: true);
            Assert.True(child.WaitForExit(30_000), "the killed job did not exit");
            if (expectedRepair > 0) Assert.Contains($"removed a torn last line ({expectedRepair} bytes)", stderr.ToString());

            byte[] bytes = File.ReadAllBytes(output);
            int tail = bytes.Length - 1 - Array.LastIndexOf(bytes, (byte)'\n');
            bool killTore = tail > 0;
            if (!killTore)
            {
                var done = BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).ToHashSet();
                string? next = data.GoodIds.FirstOrDefault(id => !done.Contains(id));
                Assert.True(next != null, $"the job was done before kill {kill + 1}");
                string record = $"{{\"id\":\"{next}\",\"caption\":\"a torn caption that never finished\",\"model\":\"tiny\",\"timings\":{{\"total_ms\":1}}}}";
                tail = random.Next(1, record.Length);
                File.AppendAllText(output, record[..tail]);
            }
            expectedRepair = tail;
            log.WriteLine($"kill {kill + 1}: {LineCount(output)} whole lines after {clock.Elapsed.TotalSeconds:F1} s; " +
                (killTore ? $"the kill tore the last line ({tail} bytes)" : $"clean; appended a {tail}-byte torn prefix"));
            Assert.True(LineCount(output) < data.GoodIds.Count, "the job was done before the kill");
        }

        using (var final = Start(data.InputPath, output, out var stderr))
        {
            Assert.True(final.WaitForExit(180_000), "the final run did not finish");
            final.WaitForExit(); // drain the redirected streams
            Assert.True(final.ExitCode == 0, $"exit {final.ExitCode}: {stderr}");
            Assert.Contains($"removed a torn last line ({expectedRepair} bytes)", stderr.ToString());
        }

        var records = BatchDataset.ReadRecords(output); // strict: whole lines only
        Assert.Equal(data.GoodIds.Order(), records.Select(r => (string)r["id"]!).Order());
        Assert.DoesNotContain(records, r => ((string?)r["caption"])?.Contains("torn") == true);
        Assert.All(records, r => Assert.Null(r["error"]));
    }

    static int LineCount(string path) => File.Exists(path) ? File.ReadAllBytes(path).Count(b => b == (byte)'\n') : 0;

    Process Start(string input, string output, out StringBuilder stderr)
    {
        var start = CliRunner.ChildProcessStart("caption-batch", "--input", input, "--output", output, "--server", fx.Url, "--max-tokens", "6", "--concurrency", "4");
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start regionchat");
        var err = new StringBuilder();
        // Drain both pipes so the child never blocks on a full one.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (err) err.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        stderr = err;
        return process;
    }
}
