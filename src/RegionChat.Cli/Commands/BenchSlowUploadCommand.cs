using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using PbV1 = RegionChat.Protos.V1;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench slow-upload --model DIR [--connections 64] [--rate 300] [--chats 8] [--rounds 2] [--max-tokens 8]
/// [--threads N] [--json]`: a normal gRPC chat's time while N connections trickle /v1 request bodies at R bytes/s (each
/// reconnecting when the server cuts it off), as a ratio to its time without them, on an in-process server whose queue
/// holds N requests (visual-token cache off, so every chat does its whole work). Target: under 2×, and no chat refused.
/// </summary>
internal static class BenchSlowUploadCommand
{
    public const double Target = 2.0;

    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder to serve in-process on free loopback ports.", Required = true };
        var connections = Int("--connections", "Slow-body connections (also the server's QueueSize, as in the attack).", 64);
        var rate = Int("--rate", "Bytes per second each slow connection sends.", 300);
        var chats = Int("--chats", "Normal chats per leg (one at a time).", 8);
        var rounds = Int("--rounds", "Rounds of an unloaded and a loaded leg (the order alternates).", 2);
        var maxTokens = Int("--max-tokens", "Most tokens per chat answer.", 8);
        var threads = Int("--threads", "CPU threads of the in-process server.", Environment.ProcessorCount);
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and the ratio." };

        var command = new Command("slow-upload", "Time a normal chat under slow-body /v1 connections, as a ratio to its unloaded time.");
        foreach (var o in new Option[] { model, connections, rate, chats, rounds, maxTokens, threads, json }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                string dir = parse.GetRequiredValue(model).FullName;
                if (!File.Exists(Path.Combine(dir, ModelManifest.FileName))) throw new ArgumentException($"--model: no {ModelManifest.FileName} in {dir}");
                int n = Check(parse.GetValue(connections), 1, 4096, "--connections"), bytesPerSecond = Check(parse.GetValue(rate), 1, 1 << 20, "--rate");
                int perLeg = Check(parse.GetValue(chats), 1, 10_000, "--chats"), legs = Check(parse.GetValue(rounds), 1, 100, "--rounds");
                int tokens = Check(parse.GetValue(maxTokens), 1, 4096, "--max-tokens"), cpu = Check(parse.GetValue(threads), 1, 1024, "--threads");
                var r = await RunAsync(dir, n, bytesPerSecond, perLeg, legs, tokens, cpu, error.WriteLine, ct).ConfigureAwait(false);
                var c = CultureInfo.InvariantCulture;
                output.WriteLine(string.Create(c, $"model {r["model"]}: {n} slow-body connections at {bytesPerSecond} B/s (QueueSize {n}), " +
                    $"{legs} rounds of {perLeg} chats per leg, {tokens} max tokens, {cpu} threads; load avg {r["load_avg_before"]} → {r["load_avg_after"]}"));
                output.WriteLine(string.Create(c, $"chat median: unloaded {r["unloaded_chat_ms_median"]} ms, " +
                    $"under slow uploads {r["loaded_chat_ms_median"]} ms; " +
                    $"refused {r["unloaded_refused"]} / {r["loaded_refused"]}; slow connections cut off by the server {r["slow_cut_off"]} times"));
                output.WriteLine(string.Create(c, $"loaded / unloaded: {r["ratio"]:F2}x (target < {Target}: {((bool)r["target_met"]! ? "met" : "NOT met")})"));
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(r));
                return 0;
            }
            catch (Exception e) when (CliErrors.IsExpected(e))
            {
                return CliErrors.Report(e, error);
            }
        });
        return command;
    }

    static async Task<Dictionary<string, object?>> RunAsync(string dir, int connections, int rate, int perLeg, int rounds, int maxTokens,
        int threads, Action<string> log, CancellationToken ct)
    {
        double loadBefore = ServerBenchmark.LoadAverage();
        await using var server = await InProcessServer.StartAsync(dir, new Dictionary<string, string?>
        {
            ["RegionChat:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["RegionChat:QueueSize"] = connections.ToString(CultureInfo.InvariantCulture),
            ["RegionChat:HttpUrl"] = "http://127.0.0.1:0",
            // Every chat does its whole work (decode, vision forward, prefill, answer), not a cache hit.
            ["RegionChat:VisualCacheBytes"] = "0",
        }).ConfigureAwait(false);
        var http = server.HttpAddress ?? throw new InvalidOperationException("the in-process server has no HTTP/1.1 listener");
        using var client = new RegionChatClient(server.Address);
        var model = (await client.ListModelsAsync(ct).ConfigureAwait(false)).Models.Single(m => m.Id == server.ModelId);
        var prompt = ServerBenchmark.MakePrompt(910_000, (int)model.Vision.ImageSize, "what is this?");
        await ChatAsync(client, prompt, maxTokens, ct).ConfigureAwait(false); // warm-up
        log($"server on {server.Address} (gRPC) and {http} (HTTP/1.1)");

        var unloaded = new List<double>();
        var loaded = new List<double>();
        int unloadedRefused = 0, loadedRefused = 0, cutOff = 0;
        for (int round = 0; round < rounds; round++)
        {
            foreach (bool underLoad in round % 2 == 0 ? new[] { false, true } : [true, false])
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var slow = underLoad
                    ? Enumerable.Range(0, connections).Select(_ => TrickleAsync(http, rate, () => Interlocked.Increment(ref cutOff), stop.Token)).ToArray()
                    : [];
                // The slow requests reach the server (their bodies begin) before the leg is timed.
                if (underLoad) await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                for (int i = 0; i < perLeg; i++)
                {
                    double? ms = await ChatAsync(client, prompt, maxTokens, ct).ConfigureAwait(false);
                    if (ms is { } t) (underLoad ? loaded : unloaded).Add(t);
                    else if (underLoad) loadedRefused++;
                    else unloadedRefused++;
                }
                await stop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(slow).ConfigureAwait(false);
            }
        }
        double u = PathFigures.Median(unloaded), l = PathFigures.Median(loaded);
        double ratio = u > 0 && loaded.Count > 0 ? l / u : double.PositiveInfinity;
        return new Dictionary<string, object?>
        {
            ["model"] = server.ModelId,
            ["connections"] = connections,
            ["rate_bytes_per_second"] = rate,
            ["chats_per_leg"] = perLeg,
            ["rounds"] = rounds,
            ["unloaded_chat_ms_median"] = Math.Round(u, 2),
            ["loaded_chat_ms_median"] = Math.Round(l, 2),
            ["unloaded_refused"] = unloadedRefused,
            ["loaded_refused"] = loadedRefused,
            ["slow_cut_off"] = cutOff,
            ["ratio"] = double.IsFinite(ratio) ? Math.Round(ratio, 4) : null,
            ["target"] = Target,
            ["target_met"] = ratio < Target && loadedRefused == 0,
            ["load_avg_before"] = double.IsFinite(loadBefore) ? Math.Round(loadBefore, 2) : null,
            ["load_avg_after"] = ServerBenchmark.LoadAverage() is var after && double.IsFinite(after) ? Math.Round(after, 2) : null,
        };
    }

    /// <summary>One normal chat's time in ms, or null when the server refused it (queue full).</summary>
    static async Task<double?> ChatAsync(RegionChatClient client, ServerBenchmark.Prompt p, int maxTokens, CancellationToken ct)
    {
        var request = new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage { Text = p.Question, Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(p.Png) },
                Region = p.ProtoRegion },
            MaxTokens = (uint)maxTokens,
        };
        var clock = Stopwatch.StartNew();
        string session = "";
        try
        {
            await foreach (var e in client.ChatStreamAsync(request, ct).ConfigureAwait(false))
                if (e.Started != null) session = e.Started.SessionId;
        }
        catch (RegionChatException e) when (e.StatusCode == Grpc.Core.StatusCode.ResourceExhausted) { return null; }
        double ms = clock.Elapsed.TotalMilliseconds;
        if (session.Length > 0) await client.EndSessionAsync(session, ct).ConfigureAwait(false);
        return ms;
    }

    /// <summary>An attacker's connection: a /v1 request whose body (1 MB announced) comes at <paramref name="rate"/> B/s;
    /// when the server cuts it off it connects again, until <paramref name="ct"/>.</summary>
    static async Task TrickleAsync(Uri http, int rate, Action cutOff, CancellationToken ct)
    {
        var piece = new byte[Math.Max(1, rate / 10)];
        Array.Fill(piece, (byte)' ');
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(http.Host, http.Port, ct).ConfigureAwait(false);
                var stream = tcp.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /v1/chat/completions HTTP/1.1\r\n" + $"Host: {http.Authority}\r\n" +
                    "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"), ct).ConfigureAwait(false);
                while (true)
                {
                    await Task.Delay(100, ct).ConfigureAwait(false);
                    await stream.WriteAsync(piece, ct).ConfigureAwait(false);
                    if (tcp.Client.Poll(0, SelectMode.SelectRead)) break; // the server answered (408, 429) or closed
                }
                cutOff();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (e is IOException or SocketException)
            {
                cutOff();
            }
        }
    }
}
