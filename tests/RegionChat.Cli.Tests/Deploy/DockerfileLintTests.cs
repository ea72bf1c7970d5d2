using System.Diagnostics;
using System.Text;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>deploy/docker's Dockerfiles pass dockerfilelint (npm), installed from the committed package-lock.json into a
/// temporary folder (the repository stays untouched). Skips, naming npm, where npm is not installed.</summary>
public sealed class DockerfileLintTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    static readonly string DockerFolder = Path.Combine(SharedFiles.RepoRoot, "deploy", "docker");

    [SkippableFact]
    public async Task TheDockerfilesPassDockerfilelint()
    {
        Skip.If(FindOnPath("npm") == null, "npm is not installed (apt-get install npm): the Dockerfile lint needs it");
        foreach (var f in new[] { "package.json", "package-lock.json" })
            File.Copy(Path.Combine(DockerFolder, f), temp.File(f));
        var install = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], temp.Path);
        Assert.True(install.Exit == 0, $"npm ci exit {install.Exit}:\n{install.Output}");

        string[] dockerfiles = [.. Directory.GetFiles(DockerFolder, "Dockerfile*").Order(StringComparer.Ordinal)];
        Assert.Contains(Path.Combine(DockerFolder, "Dockerfile"), dockerfiles);
        var lint = await RunAsync(Path.Combine(temp.Path, "node_modules", ".bin", "dockerfilelint"), dockerfiles, temp.Path);
        log.WriteLine(lint.Output);
        Assert.True(lint.Exit == 0, $"dockerfilelint exit {lint.Exit}:\n{lint.Output}");
        foreach (var f in dockerfiles) Assert.Contains($"File:   {f}", lint.Output);
        Assert.Equal(dockerfiles.Length, lint.Output.Split("Issues: None found").Length - 1);
    }

    static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    static async Task<(int Exit, string Output)> RunAsync(string file, string[] args, string workingDirectory)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(cts.Token);
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }
}
