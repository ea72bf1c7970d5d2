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
        Skip.If(ToolProcess.FindOnPath("npm") == null, "npm is not installed (apt-get install npm): the Dockerfile lint needs it");
        foreach (var f in new[] { "package.json", "package-lock.json" })
            File.Copy(Path.Combine(DockerFolder, f), temp.File(f));
        var install = await ToolProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], temp.Path);
        Assert.True(install.Exit == 0, $"npm ci exit {install.Exit}:\n{install.Output}");

        string[] dockerfiles = [.. Directory.GetFiles(DockerFolder, "Dockerfile*").Order(StringComparer.Ordinal)];
        Assert.Contains(Path.Combine(DockerFolder, "Dockerfile"), dockerfiles);
        var lint = await ToolProcess.RunAsync(Path.Combine(temp.Path, "node_modules", ".bin", "dockerfilelint"), dockerfiles, temp.Path);
        log.WriteLine(lint.Output);
        Assert.True(lint.Exit == 0, $"dockerfilelint exit {lint.Exit}:\n{lint.Output}");
        foreach (var f in dockerfiles) Assert.Contains($"File:   {f}", lint.Output);
        Assert.Equal(dockerfiles.Length, lint.Output.Split("Issues: None found").Length - 1);
    }
}
