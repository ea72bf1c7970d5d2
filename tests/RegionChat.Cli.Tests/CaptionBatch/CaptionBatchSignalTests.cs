using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>
/// SIGINT (Ctrl-C) or SIGTERM to the real `regionchat caption-batch` child: it stops, prints its summary and the hint
/// that a rerun resumes, and the rerun does only what is left.
/// </summary>
public sealed partial class CaptionBatchSignalTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Theory]
    [InlineData(2)]  // SIGINT
    [InlineData(15)] // SIGTERM
    public async Task ASignalStopsWithASummaryAndTheRerunHintAndTheRerunResumes(int signal)
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), repeat: 16, withBadItems: false); // 160 items
        string output = temp.File("out.jsonl");
        string[] args = ["caption-batch", "--input", data.InputPath, "--output", output, "--server", fx.Url, "--max-tokens", "6", "--concurrency", "2"];

        var (first, stdout, stderr) = Start(args);
        using (first)
        {
            var clock = Stopwatch.StartNew();
            // The running job holds the output exclusively: watch its size (a few records) rather than read it.
            while ((File.Exists(output) ? new FileInfo(output).Length : 0) < 600)
            {
                Assert.False(first.HasExited, $"the job ended before the signal: {stderr}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"no progress: {stderr}");
                await Task.Delay(5);
            }
            Assert.Equal(0, Kill(first.Id, signal));
            Assert.True(first.WaitForExit(30_000), "the signalled job did not exit");
            first.WaitForExit(); // drain the redirected streams
            Assert.Equal(3, first.ExitCode);
        }
        int done = LineCount(output);
        Assert.True(done < data.GoodIds.Count, "the job was done before the signal");
        Assert.Contains("rerun the same command to resume", stderr.ToString());
        Assert.Matches($@"stopped: \d+ captioned, 0 failed, 0 already done, \d+ left of {data.GoodIds.Count} items", stdout.ToString());

        var (rerun, rerunOut, rerunErr) = Start(args);
        using (rerun)
        {
            Assert.True(rerun.WaitForExit(180_000), "the rerun did not finish");
            rerun.WaitForExit();
            Assert.True(rerun.ExitCode == 0, $"exit {rerun.ExitCode}: {rerunErr}");
        }
        Assert.Contains($"{done} already done", rerunOut.ToString());
        Assert.Equal(data.GoodIds.Order(), BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).Order());
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of SigIgn in /proc/self/status).</summary>
    static bool SigIntIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
    }

    static int LineCount(string path) => File.Exists(path) ? File.ReadAllBytes(path).Count(b => b == (byte)'\n') : 0;

    static (Process Process, StringBuilder Out, StringBuilder Err) Start(string[] args)
    {
        var start = CliRunner.ChildProcessStart(args);
        if (SigIntIgnored())
        {
            // A test run started as a background job of a non-interactive shell inherits SIGINT ignored, and so would the
            // child (.NET keeps an inherited SIG_IGN, as Ctrl-C conventions ask): restore the default for the child only.
            string[] wrapper = ["-e", "$SIG{INT} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec: $!\"", "--", start.FileName];
            for (int i = 0; i < wrapper.Length; i++) start.ArgumentList.Insert(i, wrapper[i]);
            start.FileName = "perl";
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start regionchat");
        StringBuilder stdout = new(), stderr = new();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, stdout, stderr);
    }
}
