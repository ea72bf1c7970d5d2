using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`regionchat serve` as a child process: the server from the CLI binary, on the committed shapes-tiny.</summary>
public sealed partial class ServeCommandTests : IDisposable
{
    readonly TempDir temp = new();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public void Dispose() => temp.Dispose();

    /// <summary>Starts `regionchat serve ARGS` in an empty folder (no appsettings.json, no models/ there).</summary>
    Process Start(params string[] args)
    {
        var start = CliRunner.ChildProcessStart(["serve", .. args]);
        start.WorkingDirectory = temp.Path;
        return Process.Start(start)!;
    }

    /// <summary>A running `regionchat serve` child, its gRPC address and every line it logged so far.</summary>
    sealed class Serving(Process process, string address, List<string> lines) : IAsyncDisposable
    {
        public string Address => address;
        public Process Process => process;

        /// <summary>The first logged line matching <paramref name="pattern"/>, waiting for it (logging is asynchronous).</summary>
        public async Task<string> LineAsync(string pattern)
        {
            for (var until = DateTime.UtcNow.AddSeconds(20); ; await Task.Delay(50))
            {
                lock (lines)
                    if (lines.FirstOrDefault(l => Regex.IsMatch(l, pattern)) is { } line) return line;
                if (DateTime.UtcNow > until) lock (lines) Assert.Fail($"no log line matches '{pattern}':\n{string.Join("\n", lines)}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    async Task<Serving> ServeAsync(params string[] args)
    {
        var process = Start(["--grpc-port", "0", "--http-port", "0", "--threads", "1", .. args]);
        var lines = new List<string>();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line == null) return;
            lock (lines) lines.Add(line);
            var m = Regex.Match(line, @"gRPC \(h2c[^)]*\) listening on (http://127\.0\.0\.1:\d+)/");
            if (m.Success) listening.TrySetResult(m.Groups[1].Value);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var first = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2)));
        var serving = new Serving(process, first == listening.Task ? await listening.Task : "", lines);
        if (first != listening.Task)
        {
            await serving.DisposeAsync();
            lock (lines) Assert.Fail($"serve did not start listening:\n{string.Join("\n", lines)}");
        }
        return serving;
    }

    [Fact]
    public async Task ServeWithoutAModelServesShapesTinyAndAnswersACaptionLoggingOneCompactLine()
    {
        await using var serving = await ServeAsync();
        var scene = ShapesGenerator.Generate(1_000_000_007);
        string image = temp.File("scene.png");
        scene.SavePng(image);
        var target = scene.Objects[0];
        string box = $"{target.Box.X0},{target.Box.Y0},{target.Box.X1},{target.Box.Y1}";

        using var client = new RegionChatClient(serving.Address);
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

        // The call's log line: time, level, category, request id, message; none of ASP.NET's scopes before it.
        string line = await serving.LineAsync(@"Caption OK in [\d.]+ ms");
        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} info: RegionChat\.Server\S* r-[0-9a-f]{12} Caption OK in", line);
        Assert.DoesNotContain("ConnectionId", line);
        Assert.DoesNotContain("TraceId", line);
        Assert.True(line.Length < 120, $"{line.Length} characters: {line}");

        // A caller's own x-request-id (a proxy's, say) is the id its lines carry.
        await client.Grpc.ListModelsAsync(new(), new Grpc.Core.Metadata { { "x-request-id", "edge-42" } });
        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} info: RegionChat\.Server\S* edge-42 ListModels OK in", await serving.LineAsync("edge-42 ListModels OK in"));
    }

    [Fact]
    public async Task ClassifyNamesAStoredLabelSetThatModelsLists()
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 42);
        var target = scene.Objects[0];
        var inScene = scene.Objects.Select(o => o.Caption).Distinct().ToArray();
        string absent = (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
                         select ShapesText.RegionCaption(size, color, shape)).First(c => !inScene.Contains(c));
        string[] set = [.. inScene, absent];
        await using var serving = await ServeAsync([.. set.Select((label, i) => $"--RegionChat:LabelSets:scene:Labels:{i}={label}")]);
        scene.SavePng(temp.File("scene.png"));
        ShapesPng.SaveMaskPng(target.VisibleMask, temp.File("mask.png"));

        var models = await CliRunner.RunAsync("models", "--server", serving.Address);
        Assert.True(models.Exit == 0, models.Err);
        Assert.Contains($"label set scene: {set.Length} labels ({set[0]}", models.Out);

        var named = await CliRunner.RunAsync("classify", "--server", serving.Address, "--image", temp.File("scene.png"), "--mask", temp.File("mask.png"),
            "--label-set", "scene", "--top", "0", "--json");
        Assert.True(named.Exit == 0, named.Err);
        var labels = JsonDocument.Parse(named.Out.Trim().Split('\n')[^1]).RootElement.GetProperty("labels").EnumerateArray()
            .Select(l => l.GetProperty("label").GetString()).ToArray();
        Assert.Equal(set.Order(), labels.Order());   // the set's labels, every one, ranked
        Assert.Equal(target.Caption, labels[0]);

        var unknown = await CliRunner.RunAsync("classify", "--server", serving.Address, "--image", temp.File("scene.png"), "--label-set", "nope");
        Assert.Equal(1, unknown.Exit);
        Assert.StartsWith("error: NotFound: label set 'nope'", unknown.Err);
        var both = await CliRunner.RunAsync("classify", "--server", serving.Address, "--image", temp.File("scene.png"), "--label-set", "scene",
            "--labels", "a,b");
        Assert.Equal(2, both.Exit);
        Assert.Contains("one of them", both.Err);
    }

    [Fact]
    public async Task TheStartLogSaysWhereTheVisionTowerRunsAndWhetherLlamaCppCanOffload()
    {
        await using var serving = await ServeAsync("--RegionChat:GpuLayers=4");
        string line = await serving.LineAsync("vision tower on");
        Assert.Contains("vision tower on cpu (RegionChat:Device=auto; TorchSharp sees no CUDA device); llama.cpp GPU offload not supported by the " +
            "loaded backend (RegionChat:GpuLayers=4)", line);
        string warning = await serving.LineAsync("GpuLayers is 4");
        Assert.Contains("cannot offload to a GPU (the CPU build); every layer runs on the CPU", warning);
    }

    [Fact]
    public async Task JsonLogsCarryEveryScope()
    {
        await using var serving = await ServeAsync("--Logging:Console:FormatterName=json");
        using var client = new RegionChatClient(serving.Address);
        await client.ListModelsAsync();
        string line = await serving.LineAsync("ListModels OK in");
        using var json = System.Text.Json.JsonDocument.Parse(line);
        var scopes = json.RootElement.GetProperty("Scopes").EnumerateArray().ToList();
        Assert.Contains(scopes, s => s.TryGetProperty("RequestId", out var id) && id.GetString()!.StartsWith("r-", StringComparison.Ordinal));
        Assert.Contains(scopes, s => s.TryGetProperty("ConnectionId", out _));
        Assert.Contains(scopes, s => s.TryGetProperty("RequestPath", out var path) && path.GetString() == "/regionchat.v1.RegionChat/ListModels");
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

    /// <summary>A turn of the tiny test model's: its greedy answer runs thousands of tokens (about 1.5k a second here).</summary>
    static async Task<(IAsyncEnumerator<RegionChat.Protos.V1.ChatEvent> Events, Task<RegionChat.Protos.V1.ChatFinished> Finished)> LongTurnAsync(
        RegionChatClient client, uint maxTokens)
    {
        var events = client.ChatStreamAsync(new RegionChat.Protos.V1.ChatRequest { Message = new() { Text = "describe this region" }, MaxTokens = maxTokens })
            .GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync()); // Started
        Assert.True(await events.MoveNextAsync()); // a first delta: it runs
        async Task<RegionChat.Protos.V1.ChatFinished> Rest()
        {
            while (await events.MoveNextAsync())
                if (events.Current.Finished is { } finished) return finished;
            throw new InvalidOperationException("the stream ended without its Finished event");
        }
        return (events, Rest());
    }

    [Fact]
    public async Task SigtermLetsTheAnswerInFlightFinishAndASecondSignalEndsIt()
    {
        string models = Path.Combine(temp.Path, "models");
        TinyModel.Write(Path.Combine(models, "tiny"));
        string[] args = ["--models", models, "--model", "tiny", "--RegionChat:ShutdownDrainSeconds=120"];

        await using (var serving = await ServeAsync(args))
        {
            using var client = new RegionChatClient(serving.Address);
            var (events, finished) = await LongTurnAsync(client, 1500);
            await using var _ = events;
            Assert.Equal(0, Kill(serving.Process.Id, 15));
            var end = await finished.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(RegionChat.Protos.V1.FinishReason.Length, end.Reason);
            Assert.Equal(1500u, end.Usage.CompletionTokens);
            Assert.True(serving.Process.WaitForExit(60_000), "the server did not exit after its drain");
            Assert.Equal(0, serving.Process.ExitCode);
            await serving.LineAsync("shutting down: new requests are refused; 1 in flight may finish within 120 s");
            await serving.LineAsync("shutting down: every request finished");
        }

        await using (var serving = await ServeAsync(args))
        {
            using var client = new RegionChatClient(serving.Address);
            var (events, finished) = await LongTurnAsync(client, 4000);
            await using var _ = events;
            Assert.Equal(0, Kill(serving.Process.Id, 15));
            await serving.LineAsync("shutting down: new requests are refused");
            Assert.Equal(0, Kill(serving.Process.Id, 2)); // Ctrl-C after SIGTERM: stop waiting
            var end = await finished.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(RegionChat.Protos.V1.FinishReason.Cancelled, end.Reason);
            Assert.True(end.Usage.CompletionTokens < 4000, $"{end.Usage.CompletionTokens} tokens: the second signal did not end the answer");
            Assert.True(serving.Process.WaitForExit(60_000), "the server did not exit after the second signal");
            await serving.LineAsync(@"shutting down: 1 request\(s\) still in flight end now");
        }
    }
}
