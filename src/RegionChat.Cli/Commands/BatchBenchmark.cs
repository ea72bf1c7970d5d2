using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

internal sealed record BatchBenchmarkOptions
{
    /// <summary>Model folder to serve in-process; null with <see cref="Server"/>.</summary>
    public string? ModelDir { get; init; }
    /// <summary>An already running server to measure instead.</summary>
    public string? Server { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Items per route.</summary>
    public int Items { get; init; } = 64;
    /// <summary>Items in flight on the CaptionStream route.</summary>
    public int Concurrency { get; init; } = 8;
    public int MaxTokens { get; init; } = 32;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>visual_token_budget of every Caption request and CaptionStream item; 0 = not set (the server's setting).</summary>
    public int VisualTokenBudget { get; init; }
    /// <summary>Which routes run: both (the comparison), or one alone (to profile it).</summary>
    public BatchRoutes Routes { get; init; } = BatchRoutes.Both;
    /// <summary>Untimed items per route before the timed legs.</summary>
    public int Warmup { get; init; } = 1;

    /// <summary>Whether the unary route (or, with false, the stream route) runs.</summary>
    public bool Runs(bool unary) => Routes == BatchRoutes.Both || (Routes == BatchRoutes.Unary) == unary;

    public void Validate()
    {
        if ((ModelDir == null) == (Server == null)) throw new ArgumentException("give --model DIR (served in-process) or --server URL, not both");
        Check(VisualTokenBudget, 0, Inference.VisualTokenSelection.MaxBudget, "--visual-token-budget");
        Check(Items, 1, 100_000, "--items");
        Check(Concurrency, 1, 256, "--concurrency");
        Check(MaxTokens, 1, 4096, "--max-tokens");
        Check(Threads, 1, 1024, "--threads");
        Check(Warmup, 0, 100_000, "--warmup");
    }

    static void Check(int v, int min, int max, string name)
    {
        if (v < min || v > max) throw new ArgumentException($"{name} must be in [{min}, {max}], got {v}");
    }
}

internal enum BatchRoutes { Both, Unary, Stream }

/// <summary>One route's items: wall time and this process's CPU time summed over its legs, generated tokens, per-item
/// latency, and the server's own timings of each item (where an item's time went).</summary>
internal sealed record RouteFigures(int Items, double WallMs, double CpuMs, long CompletionTokens, IReadOnlyList<double> ItemMs,
    IReadOnlyDictionary<int, string> Captions, IReadOnlyList<PbV1.Timings> Timings)
{
    /// <summary>CPU time of the LLM engine's thread and of the vision batcher's (null where /proc is not there).</summary>
    public double? EngineThreadMs { get; init; }
    public double? VisionThreadMs { get; init; }
    /// <summary>JIT compile time in this process (all threads) while the route's legs ran.</summary>
    public double JitMs { get; init; }
    /// <summary>The share of the route's wall time that thread was on a CPU.</summary>
    public double? EngineThreadBusy => WallMs > 0 ? EngineThreadMs / WallMs : null;
    public double? VisionThreadBusy => WallMs > 0 ? VisionThreadMs / WallMs : null;

    /// <summary>CPU time per item (all threads of this process: with an in-process server, client and server).</summary>
    public double CpuMsPerItem => Items > 0 ? CpuMs / Items : 0;
    /// <summary>Cores busy on average while the route ran.</summary>
    public double CoresBusy => WallMs > 0 ? CpuMs / WallMs : 0;
    /// <summary>Median over items of one server timing.</summary>
    public double MedianTiming(Func<PbV1.Timings, double> figure) => PathFigures.Median(Timings.Select(figure));
    public double ItemsPerSecond => WallMs > 0 ? Items * 1000.0 / WallMs : 0;
    public double TokensPerSecond => WallMs > 0 ? CompletionTokens * 1000.0 / WallMs : 0;
    public double MedianItemMs => PathFigures.Median(ItemMs);
}

internal sealed record BatchBenchmarkResult(
    BatchBenchmarkOptions Options, string ModelId, string ServerLabel, bool SameItems, RouteFigures Unary, RouteFigures Stream,
    double LoadBefore, double LoadAfter)
{
    public const double Target = 1.5;
    public bool Compared => Options.Routes == BatchRoutes.Both;
    public double Ratio => Compared && Unary.ItemsPerSecond > 0 ? Stream.ItemsPerSecond / Unary.ItemsPerSecond : 0;
    public bool TargetMet => Ratio >= Target;
    /// <summary>Items whose captions are equal on both routes (only meaningful when both got the same items).</summary>
    public int IdenticalCaptions => Unary.Captions.Count(c => Stream.Captions.TryGetValue(c.Key, out var s) && s == c.Value);
}

/// <summary>
/// `bench batch`: items/s of one-by-one unary Caption calls against CaptionStream with N items in flight, on the same
/// server, in alternating legs (unary first in even rounds, the stream first in odd ones: the machine's load drifts).
/// The in-process server runs with its visual-token and tower-pixel caches off, so both routes get the very same items and
/// do the same work; against --server the routes get different scenes (the server's caches would otherwise serve the
/// second route).
/// </summary>
internal static class BatchBenchmark
{
    public static async Task<BatchBenchmarkResult> RunAsync(BatchBenchmarkOptions o, Action<string> log, CancellationToken ct)
    {
        o.Validate();
        double loadBefore = ServerBenchmark.LoadAverage();
        InProcessServer? local = null;
        try
        {
            string address;
            if (o.ModelDir != null)
            {
                var clock = Stopwatch.StartNew();
                local = await InProcessServer.StartAsync(o.ModelDir, new Dictionary<string, string?>
                {
                    ["RegionChat:Threads"] = o.Threads.ToString(CultureInfo.InvariantCulture),
                    ["RegionChat:ParallelSequences"] = Math.Max(8, o.Concurrency).ToString(CultureInfo.InvariantCulture),
                    ["RegionChat:QueueSize"] = Math.Max(64, 2 * o.Concurrency).ToString(CultureInfo.InvariantCulture),
                    ["RegionChat:VisualCacheBytes"] = "0",
                    ["RegionChat:TowerPixelCacheBytes"] = "0",
                    ["RegionChat:MaxTokensLimit"] = Math.Max(4096, o.MaxTokens).ToString(CultureInfo.InvariantCulture),
                }).ConfigureAwait(false);
                address = local.Address.ToString();
                log($"server on {address} serving {local.ModelId} (started in {clock.Elapsed.TotalSeconds:F1} s, visual-token and tower-pixel caches off)");
            }
            else address = o.Server!;

            using var client = ServerArguments.Connect(address, o.ApiKey);
            var models = await client.ListModelsAsync(ct).ConfigureAwait(false);
            var info = models.Models.FirstOrDefault(m => m.Id == models.DefaultModel)
                ?? throw new InvalidOperationException($"the server lists no default model ('{models.DefaultModel}')");
            int resolution = (int)info.Vision.ImageSize;
            bool sameItems = local != null;

            PbV1.CaptionRequest Request(int i, int route)
            {
                // Same scenes on both routes when the cache is off; else disjoint seeds per route. Warm-up items have
                // negative indices, so their seeds lie below each route's timed ones.
                long seed = 5_000_000 + i + (sameItems ? 0 : route * 1_000_000);
                var p = ServerBenchmark.MakePrompt(seed, resolution, "");
                return WithBudget(new PbV1.CaptionRequest
                {
                    Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(p.Png) },
                    Region = p.ProtoRegion,
                    MaxTokens = (uint)o.MaxTokens,
                });
            }

            PbV1.CaptionRequest WithBudget(PbV1.CaptionRequest request)
            {
                if (o.VisualTokenBudget > 0) request.VisualTokenBudget = (uint)o.VisualTokenBudget;
                return request;
            }

            // Untimed items first, each route its own: JIT and its tier-up, the HTTP/2 connection, first-touch allocations.
            var warmClock = Stopwatch.StartNew();
            int warmed = 0;
            for (int route = 0; route < 2 && o.Warmup > 0; route++)
            {
                if (!o.Runs(unary: route == 0)) continue;
                var warm = Enumerable.Range(0, o.Warmup).Select(i => (-1 - i, Request(-1 - i, route))).ToList();
                var leg = route == 0 ? await UnaryLegAsync(client, warm, ct).ConfigureAwait(false)
                    : await StreamLegAsync(client, warm, o.Concurrency, ct).ConfigureAwait(false);
                warmed += leg.Captions.Count;
            }
            if (o.Warmup > 0) log(string.Create(CultureInfo.InvariantCulture,
                $"warm-up: {o.Warmup} untimed items per route ({warmed} answered in all) in {warmClock.Elapsed.TotalSeconds:F1} s"));

            // Legs of 4 windows: long enough that the stream's fill and drain at each end weigh little, short enough to
            // alternate a few times in a run.
            int perRound = 4 * o.Concurrency;
            var unary = new List<Leg>();
            var stream = new List<Leg>();
            for (int start = 0, round = 0; start < o.Items; start += perRound, round++)
            {
                int count = Math.Min(perRound, o.Items - start);
                for (int leg = 0; leg < 2; leg++)
                {
                    bool unaryLeg = (leg == 0) == (round % 2 == 0);
                    if (!o.Runs(unaryLeg)) continue;
                    int route = unaryLeg ? 0 : 1;
                    var requests = Enumerable.Range(start, count).Select(i => (i, Request(i, route))).ToList();
                    if (unaryLeg) unary.Add(await UnaryLegAsync(client, requests, ct).ConfigureAwait(false));
                    else stream.Add(await StreamLegAsync(client, requests, o.Concurrency, ct).ConfigureAwait(false));
                }
                var u = Figures(unary);
                var s = Figures(stream);
                string unaryFigure = o.Runs(unary: true) ? $"unary {u.ItemsPerSecond:F2} items/s" : "";
                string streamFigure = o.Runs(unary: false) ? $"CaptionStream {s.ItemsPerSecond:F2} items/s" : "";
                log(string.Create(CultureInfo.InvariantCulture,
                    $"{start + count}/{o.Items} items per route: {string.Join(", ", new[] { unaryFigure, streamFigure }.Where(f => f.Length > 0))} " +
                    $"(load {ServerBenchmark.LoadAverage():F2})"));
            }
            return new BatchBenchmarkResult(o, info.Id, local != null ? "in-process" : address, sameItems, Figures(unary), Figures(stream),
                loadBefore, ServerBenchmark.LoadAverage());
        }
        finally
        {
            if (local != null) await local.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal sealed record Leg(double WallMs, long Tokens, List<double> ItemMs, Dictionary<int, string> Captions, List<PbV1.Timings> Timings)
    {
        public double CpuMs { get; init; }
        public double? EngineThreadMs { get; init; }
        public double? VisionThreadMs { get; init; }
        public double JitMs { get; init; }
    }

    static RouteFigures Figures(List<Leg> legs) => new(
        legs.Sum(l => l.ItemMs.Count), legs.Sum(l => l.WallMs), legs.Sum(l => l.CpuMs), legs.Sum(l => l.Tokens),
        legs.SelectMany(l => l.ItemMs).ToArray(),
        legs.SelectMany(l => l.Captions).ToDictionary(c => c.Key, c => c.Value),
        legs.SelectMany(l => l.Timings).ToArray())
    {
        EngineThreadMs = legs.Count > 0 && legs.All(l => l.EngineThreadMs != null) ? legs.Sum(l => l.EngineThreadMs) : null,
        VisionThreadMs = legs.Count > 0 && legs.All(l => l.VisionThreadMs != null) ? legs.Sum(l => l.VisionThreadMs) : null,
        JitMs = legs.Sum(l => l.JitMs),
    };

    /// <summary>One Caption call after the other.</summary>
    static async Task<Leg> UnaryLegAsync(RegionChatClient client,
        IReadOnlyList<(int Index, PbV1.CaptionRequest Request)> requests, CancellationToken ct)
    {
        var leg = new Leg(0, 0, [], [], []);
        var cpu = CpuMark.Now();
        var wall = Stopwatch.StartNew();
        long tokens = 0;
        foreach (var (index, request) in requests)
        {
            var clock = Stopwatch.StartNew();
            var response = await client.CaptionAsync(request, ct).ConfigureAwait(false);
            leg.ItemMs.Add(clock.Elapsed.TotalMilliseconds);
            tokens += response.Usage?.CompletionTokens ?? 0;
            leg.Captions[index] = response.Text;
            if (response.Timings != null) leg.Timings.Add(response.Timings);
        }
        return cpu.Since(leg with { WallMs = wall.Elapsed.TotalMilliseconds, Tokens = tokens });
    }

    /// <summary>One CaptionStream call with up to <paramref name="window"/> items in flight; a failed item ends the leg with
    /// its error.</summary>
    internal static async Task<Leg> StreamLegAsync(RegionChatClient client,
        IReadOnlyList<(int Index, PbV1.CaptionRequest Request)> requests, int window, CancellationToken ct)
    {
        var leg = new Leg(0, 0, [], [], []);
        var sent = new Dictionary<string, long>();
        var gate = new Lock();
        using var slots = new SemaphoreSlim(window);
        long tokens = 0;
        var cpu = CpuMark.Now();
        var wall = Stopwatch.StartNew();
        using var stream = client.OpenCaptionStream(ct);
        // A failed item stops the reader, and with it the slots the sender waits for: the sender must stop waiting too.
        using var readerEnded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var r in stream.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    if (r.Caption == null) throw new InvalidOperationException($"item {r.Id} failed: {r.Error}");
                    lock (gate)
                    {
                        leg.ItemMs.Add(Stopwatch.GetElapsedTime(sent[r.Id]).TotalMilliseconds);
                        leg.Captions[int.Parse(r.Id, CultureInfo.InvariantCulture)] = r.Caption.Text;
                        tokens += r.Caption.Usage?.CompletionTokens ?? 0;
                        if (r.Caption.Timings != null) leg.Timings.Add(r.Caption.Timings);
                    }
                    slots.Release();
                }
            }
            finally { await readerEnded.CancelAsync().ConfigureAwait(false); }
        }, ct);
        foreach (var (index, request) in requests)
        {
            try { await slots.WaitAsync(readerEnded.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; }
            string id = index.ToString(CultureInfo.InvariantCulture);
            lock (gate) sent[id] = Stopwatch.GetTimestamp();
            await stream.SendAsync(id, request, ct).ConfigureAwait(false);
        }
        await stream.CompleteAsync().ConfigureAwait(false);
        await reader.ConfigureAwait(false);
        if (leg.ItemMs.Count != requests.Count) throw new InvalidOperationException($"the stream answered {leg.ItemMs.Count} of {requests.Count} items");
        return cpu.Since(leg with { WallMs = wall.Elapsed.TotalMilliseconds, Tokens = tokens });
    }

    /// <summary>CPU time so far of all this process's threads (kernel and user, from /proc/self/stat in 10 ms clock ticks:
    /// meaningful over runs of hundreds of items), of the two stage threads (nanoseconds), and the JIT's compile time on
    /// all threads (its background tier-up keeps compiling for thousands of items after start).</summary>
    readonly record struct CpuMark(TimeSpan Process, ThreadCpu? Threads, TimeSpan Jit)
    {
        public static CpuMark Now()
        {
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            return new(self.TotalProcessorTime, ThreadCpu.Read(LlmEngine.ThreadName, VisionBatcher.ThreadName),
                System.Runtime.JitInfo.GetCompilationTime(currentThread: false));
        }

        /// <summary>The leg with the CPU time spent since this mark.</summary>
        public Leg Since(Leg leg)
        {
            var now = Now();
            var before = Threads;
            double? Stage(string name) => before != null && now.Threads != null ? now.Threads.Since(before, name) : null;
            return leg with
            {
                CpuMs = (now.Process - Process).TotalMilliseconds,
                EngineThreadMs = Stage(LlmEngine.ThreadName),
                VisionThreadMs = Stage(VisionBatcher.ThreadName),
                JitMs = (now.Jit - Jit).TotalMilliseconds,
            };
        }
    }
}
