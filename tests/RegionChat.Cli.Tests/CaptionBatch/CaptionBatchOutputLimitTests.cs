using System.Diagnostics;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>
/// An output that cannot take another record (a full disk, a file past its size limit) stops the job with exit code 4,
/// not 3: a script that reruns on 3 would rerun at once and fail alike. The limit here is the real one a file system
/// enforces, RLIMIT_FSIZE (bash's ulimit -f), with SIGXFSZ ignored so the write fails with EFBIG.
/// </summary>
public sealed class CaptionBatchOutputLimitTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    [Fact]
    public async Task AnOutputPastItsSizeLimitStopsTheJobWithExitCode4AndWholeLines()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), repeat: 30, withBadItems: false); // 300 items, ~90 KB of records
        string output = temp.File("out.jsonl");
        var child = CliRunner.ChildProcessStart("caption-batch", "--input", data.InputPath, "--output", output, "--server", fx.Url, "--max-tokens", "4");
        // bash: ignore SIGXFSZ (kept across exec), limit files to 16 KiB, then run the CLI as it is.
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] bashArgs = ["-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\"", child.FileName, .. child.ArgumentList];
        foreach (var a in bashArgs) start.ArgumentList.Add(a);
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0"; // the runtime's double-mapped code file would pass the limit
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the job did not stop");
        process.WaitForExit();
        string err = await stderr;
        Assert.True(process.ExitCode == 4, $"exit {process.ExitCode}: {err}");
        Assert.Contains($"error: cannot write {output}", err);
        Assert.Contains("stopped:", await stdout);

        // Whatever was written is whole lines (the partial record was cut back), and a rerun without the limit finishes.
        var records = BatchDataset.ReadRecords(output);
        Assert.InRange(new FileInfo(output).Length, 1, 16 * 1024);
        var rerun = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", output, "--server", fx.Url, "--max-tokens", "4");
        Assert.True(rerun.Exit == 0, rerun.Err);
        Assert.Equal(data.GoodIds.Order(), BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).Order());
        Assert.True(records.Count > 0);
    }
}
