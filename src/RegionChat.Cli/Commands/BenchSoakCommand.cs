using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using RegionChat.Client;
using RegionChat.Inference;
using PbV1 = RegionChat.Protos.V1;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench soak --model DIR [--captions 20000] [--repeat 0.5] [--chat-every 100] [--concurrency 8]
/// [--sample-every 1000] [--visual-cache-mb M] [--image-store-mb M] [--threads N] [--json]`: many captions (a share of
/// them on images seen before, the rest on new ones) and now and then a three-turn chat, against an in-process server,
/// sampling the process's RSS. The server's caches are bounded in bytes, so RSS must level off: the figure is RSS at
/// the end over RSS at a quarter of the run (5,000 of 20,000), target ≤ 1.10. That ratio shows a plateau only when the
/// caches fill within the first quarter; with bounds too large for the run it measures them filling, so the run can set
/// its own bounds.
/// </summary>
internal static class BenchSoakCommand
{
    public const double Target = 1.10;

    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder to serve in-process on a free loopback port.", Required = true };
        var captions = Int("--captions", "Captions in the run.", 20_000);
        var repeat = new Option<double>("--repeat")
        {
            Description = "Share of captions on an image seen before (a visual-cache hit).",
            DefaultValueFactory = _ => 0.5,
        };
        var chatEvery = Int("--chat-every", "A three-turn chat (image, follow-up, end) after every N captions; 0 = none.", 100);
        var concurrency = Int("--concurrency", "Caption calls in flight.", 8);
        var sampleEvery = Int("--sample-every", "Captions between RSS samples.", 1000);
        var threads = Int("--threads", "CPU threads of the in-process server.", Environment.ProcessorCount);
        var visualCache = Int("--visual-cache-mb", "The run's visual-token cache bound in MiB (0: the server's setting, VisualCacheBytes).", 0);
        var imageStore = Int("--image-store-mb", "The run's image store bound in MiB (0: the server's setting, ImageStoreBytes).", 0);
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding the curve and the ratio." };

        var command = new Command("soak", "RSS over many captions and chats: does it level off within the cache bounds?");
        foreach (var o in new Option[] { model, captions, repeat, chatEvery, concurrency, sampleEvery, visualCache, imageStore, threads, json })
            command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                string dir = parse.GetRequiredValue(model).FullName;
                if (!File.Exists(Path.Combine(dir, ModelManifest.FileName))) throw new ArgumentException($"--model: no {ModelManifest.FileName} in {dir}");
                double share = parse.GetValue(repeat);
                if (!(share is >= 0 and <= 1)) throw new ArgumentException($"--repeat must be in [0, 1], got {share}");
                var o = new SoakOptions(dir, Check(parse.GetValue(captions), 1, 10_000_000, "--captions"), share,
                    Check(parse.GetValue(chatEvery), 0, 10_000_000, "--chat-every"), Check(parse.GetValue(concurrency), 1, 256, "--concurrency"),
                    Check(parse.GetValue(sampleEvery), 1, 10_000_000, "--sample-every"), Check(parse.GetValue(threads), 1, 1024, "--threads"),
                    Check(parse.GetValue(visualCache), 0, 1 << 20, "--visual-cache-mb"), Check(parse.GetValue(imageStore), 0, 1 << 20, "--image-store-mb"));
                var result = await RunAsync(o, error.WriteLine, ct).ConfigureAwait(false);
                var c = CultureInfo.InvariantCulture;
                output.WriteLine(string.Create(c, $"model {result["model"]}: {o.Captions} captions ({o.Repeat:P0} on seen images), a chat every " +
                    $"{o.ChatEvery}, {o.Concurrency} in flight, {o.Threads} threads; {result["seconds"]} s; " +
                    $"load avg {result["load_avg_before"]} → {result["load_avg_after"]}"));
                output.WriteLine("captions   RSS MB   managed MB   live MB");
                foreach (var s in (List<Dictionary<string, double>>)result["curve"]!)
                    output.WriteLine(string.Create(c, $"{s["captions"],8}   {s["rss_mb"],6:F0}   {s["managed_mb"],10:F0}   {s["live_mb"],7:F0}"));
                output.WriteLine(string.Create(c, $"RSS end / RSS at {result["quarter_captions"]} captions: {result["ratio"]:F3} " +
                    $"(target <= {Target}: {((bool)result["target_met"]! ? "met" : "NOT met")}); cache bounds {result["cache_bounds_mb"]} MB " +
                    $"(visual tokens {result["visual_cache_mb"]}, tower pixels {result["tower_pixel_cache_mb"]}, images {result["image_store_mb"]}, " +
                    $"session records {result["session_store_mb"]})"));
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(result));
                return 0;
            }
            catch (Exception e) when (CliErrors.IsExpected(e))
            {
                return CliErrors.Report(e, error);
            }
        });
        return command;
    }

    sealed record SoakOptions(string ModelDir, int Captions, double Repeat, int ChatEvery, int Concurrency, int SampleEvery, int Threads,
        int VisualCacheMb, int ImageStoreMb);

    static async Task<Dictionary<string, object?>> RunAsync(SoakOptions o, Action<string> log, CancellationToken ct)
    {
        double loadBefore = ServerBenchmark.LoadAverage();
        // The server's own cache settings (its defaults unless the environment sets RegionChat__… or an option sets a bound):
        // the soak measures what such a server holds, and reports the bounds in force.
        var settings = new Dictionary<string, string?> { ["RegionChat:Threads"] = o.Threads.ToString(CultureInfo.InvariantCulture) };
        if (o.VisualCacheMb > 0) settings["RegionChat:VisualCacheBytes"] = ((long)o.VisualCacheMb << 20).ToString(CultureInfo.InvariantCulture);
        if (o.ImageStoreMb > 0) settings["RegionChat:ImageStoreBytes"] = ((long)o.ImageStoreMb << 20).ToString(CultureInfo.InvariantCulture);
        await using var server = await InProcessServer.StartAsync(o.ModelDir, settings).ConfigureAwait(false);
        var bounds = server.CoreOptions;
        using var client = new RegionChatClient(server.Address);
        var info = (await client.ListModelsAsync(ct).ConfigureAwait(false)).Models.Single(m => m.Id == server.ModelId);
        int resolution = (int)info.Vision.ImageSize;

        var curve = new List<Dictionary<string, double>> { Sample(0) };
        int done = 0, chats = 0, nextSample = o.SampleEvery, nextChat = o.ChatEvery;
        var clock = Stopwatch.StartNew();
        var gate = new Lock();
        await Parallel.ForEachAsync(Enumerable.Range(0, o.Captions), new ParallelOptions { MaxDegreeOfParallelism = o.Concurrency, CancellationToken = ct },
            async (i, token) =>
            {
                // A repeated caption reuses one of the last 64 new scenes: same bytes, so the visual-token cache answers.
                var random = new Random(i);
                long seed = i >= 64 && random.NextDouble() < o.Repeat ? 6_000_000 + i - 1 - random.Next(64) : 6_000_000 + i;
                var p = ServerBenchmark.MakePrompt(seed, resolution, "");
                await client.CaptionAsync(new PbV1.CaptionRequest
                {
                    Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(p.Png) },
                    Region = p.ProtoRegion,
                    MaxTokens = 16,
                }, token).ConfigureAwait(false);
                bool chat = false;
                Dictionary<string, double>? sample = null;
                lock (gate)
                {
                    done++;
                    if (o.ChatEvery > 0 && done >= nextChat) { nextChat += o.ChatEvery; chat = true; chats++; }
                    if (done >= nextSample || done == o.Captions) { nextSample += o.SampleEvery; sample = Sample(done); curve.Add(sample); }
                }
                if (chat) await ChatAsync(client, ServerBenchmark.MakePrompt(7_000_000 + i, resolution, "what is this?"), token).ConfigureAwait(false);
                if (sample != null)
                    log(string.Create(CultureInfo.InvariantCulture, $"{sample["captions"]}/{o.Captions} captions: RSS {sample["rss_mb"]:F0} MB"));
            }).ConfigureAwait(false);

        curve.Sort((a, b) => a["captions"].CompareTo(b["captions"]));
        int quarter = o.Captions / 4;
        var atQuarter = curve.Where(s => s["captions"] >= quarter).MinBy(s => s["captions"]) ?? curve[^1];
        double ratio = curve[^1]["rss_mb"] / atQuarter["rss_mb"];
        return new Dictionary<string, object?>
        {
            ["model"] = server.ModelId,
            ["captions"] = o.Captions,
            ["chats"] = chats,
            ["repeat"] = o.Repeat,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
            ["curve"] = curve,
            ["quarter_captions"] = (int)atQuarter["captions"],
            ["ratio"] = Math.Round(ratio, 4),
            ["target"] = Target,
            ["target_met"] = ratio <= Target,
            // Every byte-bounded store of the core: visual tokens, tower pixels, images, session records (in memory).
            ["cache_bounds_mb"] = (bounds.VisualCacheBytes + bounds.TowerPixelCacheBytes + bounds.ImageStoreBytes + bounds.SessionStore.MaxBytes) >> 20,
            ["visual_cache_mb"] = bounds.VisualCacheBytes >> 20,
            ["tower_pixel_cache_mb"] = bounds.TowerPixelCacheBytes >> 20,
            ["image_store_mb"] = bounds.ImageStoreBytes >> 20,
            ["session_store_mb"] = bounds.SessionStore.MaxBytes >> 20,
            ["load_avg_before"] = double.IsFinite(loadBefore) ? Math.Round(loadBefore, 2) : null,
            ["load_avg_after"] = ServerBenchmark.LoadAverage() is var after && double.IsFinite(after) ? Math.Round(after, 2) : null,
        };
    }

    /// <summary>The process's resident set (VmRSS, /proc/self/status) and managed heap, in MB.</summary>
    static Dictionary<string, double> Sample(int captions)
    {
        double rss = double.NaN;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        return new Dictionary<string, double>
        {
            ["captions"] = captions,
            ["rss_mb"] = Math.Round(rss, 1),
            ["managed_mb"] = Math.Round(GC.GetTotalMemory(false) / 1048576.0, 1),
            // What is still referenced: a full collection first (20 or so per run), so garbage the GC has not yet
            // collected does not count. RSS growing while this stays flat is the GC's heap growth, not a leak.
            ["live_mb"] = Math.Round(GC.GetTotalMemory(true) / 1048576.0, 1),
        };
    }

    /// <summary>A chat of two turns on one image, then its session ends.</summary>
    static async Task ChatAsync(RegionChatClient client, ServerBenchmark.Prompt p, CancellationToken ct)
    {
        string session = "";
        var first = new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage { Text = p.Question, Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(p.Png) }, Region = p.ProtoRegion },
            MaxTokens = 16,
        };
        await foreach (var e in client.ChatStreamAsync(first, ct).ConfigureAwait(false))
            if (e.Started != null) session = e.Started.SessionId;
        var followUp = new PbV1.ChatRequest { SessionId = session, Message = new PbV1.UserMessage { Text = "what colour is it?" }, MaxTokens = 16 };
        await foreach (var _ in client.ChatStreamAsync(followUp, ct).ConfigureAwait(false)) { }
        await client.EndSessionAsync(session, ct).ConfigureAwait(false);
    }
}
