using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RegionChat.CaptionBatch;
using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>
/// `deploy/local/fleet.sh` (issue 13 items 4 and 6): `up --replicas 3` starts redis-server, three real server processes
/// (this test run's build of the server, on shapes-tiny) and nginx, and writes endpoints.json; a conversation runs
/// through nginx; `caption-batch --streams` through nginx captions every item exactly once although one replica is
/// killed with SIGKILL mid-job (its pid from endpoints.json); `down` stops everything that `up` started.
/// One fleet for the whole test (starting three servers is the slow part).
/// </summary>
[Collection(FleetProcesses.Name)]
public sealed class FleetScriptTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    static string Script => Path.Combine(SharedFiles.RepoRoot, "deploy", "local", "fleet.sh");

    /// <summary>This test run's build of the server (bin/CONFIG/net10.0/RID of src/RegionChat.Server).</summary>
    static string ServerBuild
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            return Path.Combine(SharedFiles.RepoRoot, "src", "RegionChat.Server", "bin", testBin.Parent!.Parent!.Name, testBin.Parent.Name, testBin.Name);
        }
    }

    [SkippableFact]
    public async Task UpServesThroughNginxCaptionBatchSurvivesAKillAndDownStopsEverything()
    {
        FleetBinaries.Require("redis-server", "redis-server");
        FleetBinaries.Require("nginx", "nginx-light");
        Assert.True(File.Exists(Path.Combine(ServerBuild, "RegionChat.Server.dll")), $"no server build in {ServerBuild}");
        string dir = temp.File("fleet");
        var up = await RunAsync(Script, ["up", "--replicas", "3", "--dir", dir, "--app", ServerBuild, "--threads", "1"], TimeSpan.FromMinutes(5));
        var pids = new List<int>();
        try
        {
            Assert.True(up.Exit == 0, $"fleet.sh up exit {up.Exit}:\n{up.Output}\n{Logs(dir)}");
            log.WriteLine(up.Output);
            var endpoints = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "endpoints.json")))!.AsObject();
            log.WriteLine(endpoints.ToJsonString());
            string grpc = (string)endpoints["grpc"]!, http = (string)endpoints["http"]!, redis = (string)endpoints["redis"]!;
            Assert.Matches(@"^http://127\.0\.0\.1:\d+$", grpc);
            Assert.Matches(@"^http://127\.0\.0\.1:\d+$", http);
            Assert.Matches(@"^redis://127\.0\.0\.1:\d+$", redis);
            var replicas = endpoints["replicas"]!.AsArray();
            Assert.Equal(3, replicas.Count);
            foreach (var r in replicas)
            {
                int pid = (int)r!["pid"]!;
                pids.Add(pid);
                // The pid is the server process itself.
                string cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                Assert.Contains("RegionChat.Server.dll", cmdline);
                Assert.Contains("--RegionChat:SessionStore:Redis=" + redis["redis://".Length..], cmdline);
                Assert.Matches(@"^http://127\.0\.0\.1:\d+$", (string)r["grpc"]!);
                using var direct = new RegionChatClient((string)r["grpc"]!);
                Assert.Equal("shapes-tiny", (await direct.ListModelsAsync()).DefaultModel);
            }
            using (var web = new HttpClient { BaseAddress = new Uri(http) })
                Assert.Contains("shapes-tiny", await web.GetStringAsync("/v1/models"));

            // A conversation through nginx: the follow-up finds its session (same replica) and reuses its cache.
            var scene = ShapesGenerator.Generate(20261203);
            var box = scene.Objects[0].Box;
            string png = temp.File("scene.png");
            scene.SavePng(png);
            using var client = new RegionChatClient(grpc);
            var first = await client.ChatAsync(new ChatTurn("what is this?")
            {
                Image = ChatImage.FromFile(png), Region = ImageRegion.Box(box.X0, box.Y0, box.X1, box.Y1),
                Generation = new GenerationOptions { MaxTokens = 16 },
            });
            var second = await client.ChatAsync(new ChatTurn("what colour is it?")
            {
                SessionId = first.SessionId, Generation = new GenerationOptions { MaxTokens = 16 },
            });
            log.WriteLine($"through nginx: '{first.Text}' / '{second.Text}'");
            Assert.True(second.Started.CachedTokens > 0);

            // caption-batch through nginx with several streams; one replica is killed (SIGKILL) mid-job.
            var data = BatchDataset.Write(temp.File("data"), repeat: 30, withBadItems: false); // 300 items
            string output = temp.File("captions.jsonl");
            int victim = 0;
            bool killed = false;
            using var metrics = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var summary = await CaptionBatchJob.RunAsync(new CaptionBatchOptions
            {
                InputPath = data.InputPath, OutputPath = output, Servers = [grpc], Streams = 6, Concurrency = 2, MaxTokens = 8, Retries = 5,
            }, progress: p =>
            {
                // SIGKILL, at once, from the job's own progress: the job is surely mid-way.
                if (p.Done >= 10 && !killed)
                {
                    killed = true;
                    // The replica that has captioned most so far (its own /metrics; 6 streams may leave one replica idle).
                    var counts = replicas.Select(r => CaptionedItems(metrics.GetStringAsync(new Uri(new Uri((string)r!["http"]!), "/metrics"))
                        .GetAwaiter().GetResult())).ToArray();
                    victim = pids[Array.IndexOf(counts, counts.Max())];
                    Process.GetProcessById(victim).Kill();
                    log.WriteLine($"killed replica pid {victim} after {p.Done} items (items per replica: {string.Join(", ", counts)})");
                }
            }, log: log.WriteLine);
            Assert.True(killed);
            foreach (var s in summary.Servers) log.WriteLine(s.ToString());
            Assert.Equal(data.GoodIds.Count, summary.Progress.Captioned);
            Assert.Equal(0, summary.Progress.Failed);
            var ids = BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).ToArray();
            Assert.Equal(ids.Length, ids.Distinct().Count());
            Assert.Equal(data.GoodIds.Order(), ids.Order());
            // The streams on the killed replica failed and moved to live ones.
            Assert.True(summary.Servers.Sum(s => s.Failures) > 0, "no stream noticed the kill");

            // Items went to more than one replica (nginx's access log names the replica of every CaptionStream).
            string access = File.ReadAllText(Path.Combine(dir, "nginx", "access.log"));
            var streams = access.Split('\n').Where(l => l.Contains("/CaptionStream", StringComparison.Ordinal)).ToArray();
            var replicasUsed = replicas.Select(r => ((string)r!["grpc"]!)["http://".Length..])
                .Count(a => streams.Any(l => l.Contains("upstream=" + a, StringComparison.Ordinal)));
            Assert.True(replicasUsed >= 2, "the caption streams did not spread:\n" + access);
        }
        finally
        {
            var down = await RunAsync(Script, ["down", "--dir", dir], TimeSpan.FromMinutes(1));
            log.WriteLine(down.Output);
            Assert.True(down.Exit == 0, $"fleet.sh down exit {down.Exit}:\n{down.Output}");
        }
        foreach (int pid in pids) Assert.False(Alive(pid), $"replica pid {pid} still runs after down");
        Assert.False(File.Exists(Path.Combine(dir, "pids")));
        var again = await RunAsync(Script, ["down", "--dir", dir], TimeSpan.FromMinutes(1));
        Assert.Equal(1, again.Exit);
        Assert.Contains("no fleet is running", again.Output);
    }

    [Fact]
    public async Task BadArgumentsAreRefusedNamingThem()
    {
        var none = await RunAsync(Script, [], TimeSpan.FromMinutes(1));
        Assert.Equal(2, none.Exit);
        Assert.Contains("fleet.sh up --replicas N --dir DIR", none.Output);
        var zero = await RunAsync(Script, ["up", "--replicas", "0", "--dir", temp.File("x")], TimeSpan.FromMinutes(1));
        Assert.Equal(1, zero.Exit);
        Assert.Contains("--replicas must be a positive number, got '0'", zero.Output);
    }

    /// <summary>The CaptionStream items a server answered, from its Prometheus text.</summary>
    static int CaptionedItems(string prometheus)
    {
        var m = System.Text.RegularExpressions.Regex.Match(prometheus,
            @"^regionchat_requests_total\{(?=[^}]*method=""CaptionStream\.item"")(?=[^}]*status=""OK"")[^}]*\}\s+(\d+)",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        return m.Success ? int.Parse(m.Groups[1].Value) : 0;
    }

    static bool Alive(int pid)
    {
        try { return !Process.GetProcessById(pid).HasExited; }
        catch (ArgumentException) { return false; }
    }

    static string Logs(string dir) => !Directory.Exists(dir) ? "" : string.Join("\n", Directory.GetFiles(dir, "*.log")
        .Select(f => $"--- {Path.GetFileName(f)}\n{string.Join("\n", File.ReadLines(f).TakeLast(15))}"));

    static async Task<(int Exit, string Output)> RunAsync(string script, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} {string.Join(' ', args)} did not finish in {timeout}:\n{output}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }
}

/// <summary>Tests that start a fleet of server processes run alone, after the parallel ones: three servers loading at
/// once would starve the other tests on a 2-core machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FleetProcesses
{
    public const string Name = "fleet processes";
}
