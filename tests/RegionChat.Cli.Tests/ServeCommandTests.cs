using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat serve` as a child process: the server from the CLI binary, on the committed shapes-tiny.</summary>
public sealed class ServeCommandTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    /// <summary>Starts `regionchat serve ARGS` in an empty folder (no appsettings.json, no models/ there).</summary>
    Process Start(params string[] args)
    {
        var start = CliRunner.ChildProcessStart(["serve", .. args]);
        start.WorkingDirectory = temp.Path;
        return Process.Start(start)!;
    }

    [Fact]
    public async Task ServeWithoutAModelServesShapesTinyAndAnswersACaption()
    {
        using var process = Start("--grpc-port", "0", "--http-port", "0", "--threads", "1");
        var log = new StringBuilder();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line == null) return;
            lock (log) log.AppendLine(line);
            var m = Regex.Match(line, @"gRPC \(h2c[^)]*\) listening on (http://127\.0\.0\.1:\d+)/");
            if (m.Success) listening.TrySetResult(m.Groups[1].Value);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var first = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2)));
            Assert.True(first == listening.Task, $"serve did not start listening:\n{log}");

            var scene = ShapesGenerator.Generate(1_000_000_007);
            string image = temp.File("scene.png");
            scene.SavePng(image);
            var target = scene.Objects[0];
            string box = $"{target.Box.X0},{target.Box.Y0},{target.Box.X1},{target.Box.Y1}";

            using var client = new RegionChatClient(await listening.Task);
            var models = await client.ListModelsAsync();
            Assert.Equal("shapes-tiny", models.DefaultModel);
            var caption = await client.CaptionAsync(ChatImage.FromBytes(File.ReadAllBytes(image)),
                ImageRegion.Box(target.Box.X0, target.Box.Y0, target.Box.X1, target.Box.Y1), generation: new GenerationOptions { MaxTokens = 24 });

            // The same turn in-process (`caption` on the committed model folder) answers the same words.
            string modelDir = Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");
            var inProcess = await CliRunner.RunAsync("caption", "--model", modelDir, "--image", image, "--box", box, "--max-tokens", "24", "--threads", "1");
            Assert.True(inProcess.Exit == 0, inProcess.Err);
            Assert.False(string.IsNullOrWhiteSpace(caption.Text));
            Assert.Equal(inProcess.Out.Trim(), caption.Text.Trim());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task ABusyPortEndsServeWithOneLineNamingTheAddressAndTheSetting()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        foreach (var (flag, setting) in new[] { ("--grpc-port", "RegionChat:GrpcUrl"), ("--http-port", "RegionChat:HttpUrl") })
        {
            string other = flag == "--grpc-port" ? "--http-port" : "--grpc-port";
            using var process = Start(flag, port.ToString(), other, "0", "--threads", "1");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            string err = await stderr, output = await stdout;

            Assert.NotEqual(0, process.ExitCode);
            var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"127.0.0.1:{port}", line);
            Assert.Contains("in use", line);
            Assert.Contains(setting, line);
            Assert.Contains(flag, line);
            Assert.DoesNotContain(" at ", err + output); // no stack trace, in the log either
            Assert.DoesNotContain("Exception", err + output);
        }
    }
}
