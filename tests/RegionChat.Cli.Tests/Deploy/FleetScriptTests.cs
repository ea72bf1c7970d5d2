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

    /// <summary>Issue 13's acceptance on real processes: 12 multi-turn conversations (image, region, follow-ups, a second
    /// region) through nginx over 3 replicas sharing Redis; the replica holding most conversations is killed with SIGKILL
    /// between turns 2 and 3, another between turns 3 and 4. Every turn is answered, every answer equals a single server's
    /// (the same conversations run first on one replica directly), and a conversation is replayed (ChatStarted.restored)
    /// exactly on the turn after its replica died, once per move.</summary>
    [SkippableFact]
    public async Task ConversationsSurviveTwoReplicaKillsWithTheAnswersOfASingleServer()
    {
        FleetBinaries.Require("redis-server", "redis-server");
        FleetBinaries.Require("nginx", "nginx-light");
        string dir = temp.File("fleet");
        // 16 sequences a replica: the last one alive holds all 12 conversations live, so a replay means a move, not an eviction.
        var up = await RunAsync(Script, ["up", "--replicas", "3", "--dir", dir, "--app", ServerBuild, "--threads", "1", "--",
            "--RegionChat:ParallelSequences=16"], TimeSpan.FromMinutes(5));
        try
        {
            Assert.True(up.Exit == 0, $"fleet.sh up exit {up.Exit}:\n{up.Output}\n{Logs(dir)}");
            var endpoints = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "endpoints.json")))!.AsObject();
            var replicas = endpoints["replicas"]!.AsArray().Select(r => (Pid: (int)r!["pid"]!, Grpc: (string)r["grpc"]!)).ToArray();
            const int Conversations = 12, Turns = 4;
            var scenes = Enumerable.Range(0, Conversations).Select(c => ShapesGenerator.Generate(20261300 + c)).ToArray();
            var images = scenes.Select((s, c) =>
            {
                string png = temp.File($"scene-{c}.png");
                s.SavePng(png);
                return File.ReadAllBytes(png);
            }).ToArray();
            ChatTurn Turn(int c, int t, string? session)
            {
                var scene = scenes[c];
                var a = scene.Objects[0].Box;
                var b = scene.Objects[^1].Box;
                var generation = new GenerationOptions { MaxTokens = 16 };
                return t switch
                {
                    0 => new ChatTurn("what is this?")
                    {
                        Image = ChatImage.FromBytes(images[c]), Region = ImageRegion.Box(a.X0, a.Y0, a.X1, a.Y1), Generation = generation,
                    },
                    1 => new ChatTurn("what colour is it?") { SessionId = session, Generation = generation },
                    2 => new ChatTurn("and this one?") { SessionId = session, Region = ImageRegion.Box(b.X0, b.Y0, b.X1, b.Y1), Generation = generation },
                    _ => new ChatTurn("what shape is it?") { SessionId = session, Generation = generation },
                };
            }

            // A single server's answers: the same conversations on replica 0 directly.
            var reference = new string[Conversations, Turns];
            using (var single = new RegionChatClient(replicas[0].Grpc))
            {
                for (int c = 0; c < Conversations; c++)
                {
                    string? session = null;
                    for (int t = 0; t < Turns; t++)
                    {
                        var answer = await single.ChatAsync(Turn(c, t, session));
                        session = answer.SessionId;
                        reference[c, t] = answer.Text;
                    }
                    await single.EndSessionAsync(session!);
                }
            }

            using var client = new RegionChatClient((string)endpoints["grpc"]!);
            var sessions = new string?[Conversations];
            var restored = new bool[Conversations, Turns];
            var restoredTokens = 0L;
            var killed = new List<int>();
            var clock = Stopwatch.StartNew();
            var holderAtKill = new int?[Conversations, Turns];
            for (int t = 0; t < Turns; t++)
            {
                if (t is 2 or 3)
                {
                    // Kill the live replica that holds the most conversations (nginx's log: the replica of each one's last turn).
                    // nginx writes a call's line just after its last frame, so the last conversation's may still be coming.
                    await LoggedAsync(dir, sessions, t);
                    var holders = Holders(dir, sessions, replicas.Select(r => r.Grpc).ToArray());
                    int victim = Enumerable.Range(0, 3).Where(i => !killed.Contains(i)).MaxBy(i => holders.Count(h => h == i));
                    Process.GetProcessById(replicas[victim].Pid).Kill();
                    killed.Add(victim);
                    for (int c = 0; c < Conversations; c++) holderAtKill[c, t] = holders[c] == victim ? victim : null;
                    log.WriteLine($"before turn {t + 1}: killed replica {victim} (pid {replicas[victim].Pid}), which held " +
                        $"{holders.Count(h => h == victim)} of the conversations (holders: {string.Join(",", holders)})");
                }
                for (int c = 0; c < Conversations; c++)
                {
                    ChatAnswer answer;
                    try { answer = await client.ChatAsync(Turn(c, t, sessions[c])); }
                    catch (RegionChatException e)
                    {
                        throw new Xunit.Sdk.XunitException($"conversation {c} turn {t + 1} failed: {e.Message}\n" +
                            string.Join("\n", File.ReadLines(Path.Combine(dir, "nginx", "access.log")).TakeLast(6)) + "\n" +
                            string.Join("\n", File.ReadLines(Path.Combine(dir, "nginx", "error.log")).TakeLast(6)));
                    }
                    sessions[c] = answer.SessionId;
                    restored[c, t] = answer.Started.Restored;
                    restoredTokens += answer.Started.RestoredTokens;
                    Assert.True(answer.Text == reference[c, t],
                        $"conversation {c} turn {t + 1}: '{answer.Text}' through the fleet, '{reference[c, t]}' on a single server");
                }
            }
            // A conversation is replayed exactly on the turn after its replica died, and only then.
            for (int c = 0; c < Conversations; c++)
                for (int t = 0; t < Turns; t++)
                    Assert.True(restored[c, t] == (holderAtKill[c, t] != null),
                        $"conversation {c} turn {t + 1}: restored {restored[c, t]}, its replica " +
                        $"{(holderAtKill[c, t] != null ? "was" : "was not")} killed before it");
            int replays = Enumerable.Range(0, Conversations).Sum(c => Enumerable.Range(0, Turns).Count(t => restored[c, t]));
            log.WriteLine($"acceptance: {Conversations} conversations x {Turns} turns through nginx, 3 replicas, 2 SIGKILLs: all " +
                $"{Conversations * Turns} turns answered, all equal to a single server's; {replays} replays " +
                $"({restoredTokens} positions prefilled), {clock.Elapsed.TotalSeconds:F1} s for the fleet's turns");
            Assert.True(replays > 0, "no conversation moved");
        }
        finally
        {
            var down = await RunAsync(Script, ["down", "--dir", dir], TimeSpan.FromMinutes(1));
            Assert.True(down.Exit == 0, $"fleet.sh down exit {down.Exit}:\n{down.Output}");
        }
    }

    /// <summary>For each conversation, the replica (index) that answered its last turn, from nginx's access log; -1 for none.</summary>
    /// <summary>Waits (up to 10 s) until nginx's access log holds <paramref name="turns"/> Chat lines of every session.</summary>
    static async Task LoggedAsync(string dir, string?[] sessions, int turns)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var lines = File.ReadAllLines(Path.Combine(dir, "nginx", "access.log")).Where(l => l.Contains("/Chat ", StringComparison.Ordinal)).ToArray();
            if (sessions.All(s => s != null && lines.Count(l => l.Contains($"session=\"{s}\"", StringComparison.Ordinal)) >= turns)) return;
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new Xunit.Sdk.XunitException($"nginx's access log lacks turns after 10 s");
            await Task.Delay(20);
        }
    }

    static int[] Holders(string dir, string?[] sessions, string[] grpcUrls)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, "nginx", "access.log")).Where(l => l.Contains("/Chat ", StringComparison.Ordinal)).ToArray();
        return sessions.Select(s =>
        {
            string? last = lines.LastOrDefault(l => s != null && l.Contains($"session=\"{s}\"", StringComparison.Ordinal));
            if (last == null) return -1;
            var m = System.Text.RegularExpressions.Regex.Match(last, @" upstream=(?<up>.*?) upstream_status=");
            string upstream = m.Groups["up"].Value.Split(", ")[^1];
            return Array.FindIndex(grpcUrls, u => u.EndsWith("//" + upstream, StringComparison.Ordinal));
        }).ToArray();
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
