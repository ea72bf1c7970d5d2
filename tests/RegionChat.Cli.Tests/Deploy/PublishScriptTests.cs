using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>
/// `deploy/publish.sh` (what deploy/docker/Dockerfile runs) publishes the server and the CLI into one folder that
/// serves shapes-tiny: the published server started from that folder on free loopback ports answers a region question
/// over gRPC, and the published CLI from the same folder talks to it.
/// </summary>
/// <remarks>To keep CI short the script publishes the Debug build the test run already has (REGIONCHAT_PUBLISH_CONFIGURATION=Debug,
/// --no-build) instead of a Release build; the commands are the Dockerfile's.</remarks>
public sealed class PublishScriptTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task ThePublishedFolderServesShapesTinyAndItsCliTalksToIt()
    {
        string app = temp.File("app");
        var publish = await RunAsync("bash", [Path.Combine(SharedFiles.RepoRoot, "deploy", "publish.sh"), app, "--no-build"], temp.Path,
            TimeSpan.FromMinutes(10), ("REGIONCHAT_PUBLISH_CONFIGURATION", TestConfiguration));
        Assert.True(publish.Exit == 0, $"publish.sh exit {publish.Exit}:\n{publish.Output}");
        Assert.Contains($"published the server (RegionChat.Server.dll), the CLI (regionchat), models/shapes-tiny and the deploy/*/model.json " +
            $"manifests to {app}", publish.Output);
        // `regionchat pull ID` from the folder finds the manifests (the image runs it from there into /models).
        Assert.True(File.Exists(Path.Combine(app, "deploy", "alphaclip-llava-1.5-7b", "model.json")));
        Assert.True(File.Exists(Path.Combine(app, "models", "shapes-tiny", "model.json")));
        Assert.True(File.Exists(Path.Combine(app, "appsettings.json")));

        // As the image runs it: from the publish folder, its appsettings.json and models/ (no repository around it).
        var server = Process.Start(Start(app, Path.Combine(app, "RegionChat.Server.dll"), "--RegionChat:GrpcUrl=http://127.0.0.1:0",
            "--RegionChat:HttpUrl=http://127.0.0.1:0", "--RegionChat:Threads=1"))!;
        var lines = new List<string>();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line == null) return;
            lock (lines) lines.Add(line);
            var m = Regex.Match(line, @"gRPC \(h2c[^)]*\) listening on (http://127\.0\.0\.1:\d+)/");
            if (m.Success) listening.TrySetResult(m.Groups[1].Value);
        }
        server.OutputDataReceived += (_, e) => OnLine(e.Data);
        server.ErrorDataReceived += (_, e) => OnLine(e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            var first = await Task.WhenAny(listening.Task, server.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2)));
            lock (lines) Assert.True(first == listening.Task, $"the published server did not start listening:\n{string.Join("\n", lines)}");
            string address = await listening.Task;

            var scene = ShapesGenerator.Generate(1_000_000_007);
            var target = scene.Objects[0];
            string image = temp.File("scene.png");
            scene.SavePng(image);
            using var client = new RegionChatClient(address);
            var models = await client.ListModelsAsync();
            Assert.Equal("shapes-tiny", models.DefaultModel);
            var answer = await client.CaptionAsync(ChatImage.FromBytes(File.ReadAllBytes(image)),
                ImageRegion.Box(target.Box.X0, target.Box.Y0, target.Box.X1, target.Box.Y1), generation: new GenerationOptions { MaxTokens = 16 });
            log.WriteLine($"published server on {address}: {answer.Text}");
            Assert.False(string.IsNullOrWhiteSpace(answer.Text));

            // The CLI from the same folder (its libraries share it with the server's).
            var chat = await RunAsync("dotnet", [Path.Combine(app, "regionchat.dll"), "chat", "--server", address, "--image", image, "--box",
                $"{target.Box.X0},{target.Box.Y0},{target.Box.X1},{target.Box.Y1}", "--max-tokens", "16", "what colour is it?"], temp.Path,
                TimeSpan.FromMinutes(2));
            Assert.True(chat.Exit == 0, $"regionchat chat exit {chat.Exit}:\n{chat.Output}");
            // The answer to a colour question names a colour (the session summary on stderr names none).
            Assert.Contains(ShapeWords.AllColors, c => chat.Output.Contains(c.Word(), StringComparison.Ordinal));
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            server.Dispose();
        }
    }

    [Fact]
    public async Task PublishWithoutAnOutputFolderPrintsItsUsage()
    {
        var run = await RunAsync("bash", [Path.Combine(SharedFiles.RepoRoot, "deploy", "publish.sh")], temp.Path, TimeSpan.FromMinutes(1));
        Assert.Equal(2, run.Exit);
        Assert.Contains("usage: deploy/publish.sh OUTPUT_DIR", run.Output);
    }

    /// <summary>The configuration this test assembly was built in (its folder: bin/CONFIG/net10.0/RID/).</summary>
    static string TestConfiguration =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Parent!.Name;

    static ProcessStartInfo Start(string workingDirectory, params string[] dotnetArgs)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in dotnetArgs) start.ArgumentList.Add(a);
        return start;
    }

    static async Task<(int Exit, string Output)> RunAsync(string file, string[] args, string workingDirectory, TimeSpan timeout,
        params (string Name, string Value)[] environment)
    {
        var start = file == "dotnet" ? Start(workingDirectory, args) : new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (file != "dotnet") foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}:\n{output}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }
}
