using System.Diagnostics;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Data.Tests.Batch;

/// <summary>Hard-kills a writing child process at random points and checks the file after every restart.</summary>
/// <remarks>
/// A SIGKILL here practically never lands inside write(2) (0 torn lines in 24 kills with 3 MB lines), so when a kill
/// leaves a clean file the test appends what a kill mid-write would leave, a prefix of the next record's line, and
/// checks that the restarted writer removes exactly those bytes.
/// </remarks>
public class ResumableJsonlWriterKillTests
{
    const int Count = 200;
    const int MaxPayload = 50_000;
    // A kill loses nothing the OS already holds, so fsync is irrelevant here; syncing every 10 appends keeps the test quick.
    const int FsyncEvery = 10;

    readonly ITestOutputHelper log;
    public ResumableJsonlWriterKillTests(ITestOutputHelper log) => this.log = log;

    [Fact]
    public void Killed_writer_resumes_without_torn_lines_or_duplicate_ids()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        var random = new Random(12345);
        int tornTails = 0;
        long expectedRepair = 0;

        for (int kill = 0; kill < 3; kill++)
        {
            // The child may append a few more records than we wait for (it is killed while working), but never finishes.
            int appendsBeforeKill = random.Next(20, 50);
            using var child = StartWriter(path, pauseAfter: appendsBeforeKill + random.Next(1, 20));
            string opened = ReadLine(child);
            Assert.StartsWith("opened:", opened);
            Assert.EndsWith($"repaired {expectedRepair} bytes", opened);
            for (int i = 0; i < appendsBeforeKill; i++) Assert.StartsWith("appended ", ReadLine(child));
            Assert.False(child.HasExited, "child exited before the kill");
            child.Kill(entireProcessTree: true);
            Assert.True(child.WaitForExit(30_000), "killed child did not exit");

            byte[] bytes = File.ReadAllBytes(path);
            int tail = bytes.Length - 1 - Array.LastIndexOf(bytes, (byte)'\n');
            bool killTore = tail > 0;
            if (killTore) tornTails++;
            else
            {
                string next = $"{{\"id\":\"item-{Count - 1:D5}\",\"n\":{Count - 1},\"payload\":\"{new string('q', 5000)}\"}}";
                tail = random.Next(1, next.Length);
                File.AppendAllText(path, next[..tail]);
            }
            expectedRepair = tail;
            log.WriteLine($"kill {kill + 1}: {opened}; killed after {appendsBeforeKill} more appends, file {bytes.Length} bytes, "
                + (killTore ? $"torn tail {tail} bytes" : $"clean, appended a {tail}-byte torn prefix"));
        }

        using (var final = StartWriter(path, pauseAfter: null))
        {
            string output = final.StandardOutput.ReadToEnd();
            Assert.True(final.WaitForExit(120_000), "final writer run did not finish");
            Assert.True(final.ExitCode == 0, $"exit {final.ExitCode}: {final.StandardError.ReadToEnd()}");
            Assert.EndsWith("done", output.Trim());
            Assert.StartsWith($"opened: ", output);
            Assert.Contains($"repaired {expectedRepair} bytes", output.Split('\n')[0]);
            log.WriteLine("final run: " + output.Split('\n')[0]);
        }

        var ids = ResumableJsonlWriterTests.ReadIdsStrict(path);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"item-{i:D5}"), ids.Order());
        log.WriteLine($"torn tails left by the kills themselves: {tornTails} of 3");
    }

    static string ReadLine(Process child) =>
        child.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"child ended early: {child.StandardError.ReadToEnd()}");

    static Process StartWriter(string path, int? pauseAfter)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["exec", WriterDll(), "write", path, Count.ToString(), MaxPayload.ToString(), FsyncEvery.ToString()])
            start.ArgumentList.Add(a);
        if (pauseAfter is int p) start.ArgumentList.Add(p.ToString());
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the writer child");
    }

    static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>The child's dll, built next to this test project's output (same configuration and RID folders).</summary>
    static string WriterDll()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory);
        var parts = new Stack<string>();
        while (bin != null && bin.Name != "bin") { parts.Push(bin.Name); bin = bin.Parent; }
        Assert.True(bin?.Parent?.Parent != null, $"no bin folder above {AppContext.BaseDirectory}");
        string dll = Path.Combine([bin!.Parent!.Parent!.FullName, "RegionChat.Data.Tests.Writer", "bin", .. parts, "RegionChat.Data.Tests.Writer.dll"]);
        Assert.True(File.Exists(dll), $"{dll} not built (it is a ProjectReference of this test project)");
        return dll;
    }
}
