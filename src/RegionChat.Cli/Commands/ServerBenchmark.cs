using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Data.Regions;
using RegionChat.Data.Shapes;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

internal sealed record ServerBenchmarkOptions
{
    public required string ModelDir { get; init; }
    /// <summary>Requests in flight at once, on each path.</summary>
    public int Concurrency { get; init; } = 1;
    /// <summary>Requests per path, run in interleaved chunks of <see cref="Concurrency"/>.</summary>
    public int Requests { get; init; } = 16;
    public int MaxTokens { get; init; } = 32;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Sessions (first turn + follow-up) timed sequentially on each path.</summary>
    public int FollowUps { get; init; } = 3;
    public int ContextSize { get; init; } = 4096;
    /// <summary>The model's visual-token budget on both paths (RegionChat:Models:&lt;id&gt;:VisualTokenBudget); 0 = all.</summary>
    public int VisualTokenBudget { get; init; }

    public void Validate()
    {
        Check(VisualTokenBudget, 0, Inference.VisualTokenSelection.MaxBudget, "--visual-token-budget");
        Check(Concurrency, 1, 64, "--concurrency");
        Check(Requests, 1, 10_000, "--requests");
        Check(MaxTokens, 1, 4096, "--max-tokens");
        Check(Threads, 1, 1024, "--threads");
        Check(FollowUps, 1, 1000, "--follow-ups");
        Check(ContextSize, 256, 1 << 20, "--context");
    }

    static void Check(int v, int min, int max, string name)
    {
        if (v < min || v > max) throw new ArgumentException($"{name} must be in [{min}, {max}], got {v}");
    }
}

/// <summary>One timed turn as its caller saw it: from sending the request to the first text and to the end.</summary>
/// <param name="EngineDecodeTps">The engine's own decode rate for the turn (the server's Timings, or the in-process
/// TurnFinished timings): how fast the LLM stepped, without the delivery to the caller.</param>
internal sealed record TurnSample(double TtftMs, double DecodeMs, int CompletionTokens, int PromptTokens, int CachedTokens, string Text, double EngineDecodeTps)
{
    public double TotalMs => TtftMs + DecodeMs;
    /// <summary>Tokens after the first over the time after the first text; 0 when fewer than 2 tokens.</summary>
    public double DecodeTokensPerSecond => CompletionTokens >= 2 && DecodeMs > 0 ? (CompletionTokens - 1) * 1000.0 / DecodeMs : 0;
}

/// <summary>The turns of one path (gRPC or in-process) and the wall time they took.</summary>
internal sealed record PathFigures(IReadOnlyList<TurnSample> Samples, double WallMs)
{
    public double TtftMedianMs => Median(Samples.Select(s => s.TtftMs));
    /// <summary>Median time from sending the request to the end of the answer.</summary>
    public double TotalMedianMs => Median(Samples.Select(s => s.TotalMs));
    /// <summary>Median over turns of each turn's decode tok/s (what one stream sees).</summary>
    public double DecodeMedianTokensPerSecond => Median(Samples.Where(s => s.DecodeTokensPerSecond > 0).Select(s => s.DecodeTokensPerSecond));
    /// <summary>Tokens after the first over the time after the first text, summed over turns (token-weighted).</summary>
    public double DecodeTokensPerSecond
    {
        get
        {
            var decoding = Samples.Where(s => s.CompletionTokens >= 2 && s.DecodeMs > 0).ToList();
            double ms = decoding.Sum(s => s.DecodeMs);
            return ms > 0 ? decoding.Sum(s => s.CompletionTokens - 1) * 1000.0 / ms : 0;
        }
    }
    /// <summary>All generated tokens over the chunks' wall time (what concurrent clients get in total).</summary>
    public double AggregateTokensPerSecond => WallMs > 0 ? Samples.Sum(s => s.CompletionTokens) * 1000.0 / WallMs : 0;
    public int CompletionTokens => Samples.Sum(s => s.CompletionTokens);
    public double EngineDecodeMedianTokensPerSecond => Median(Samples.Where(s => s.EngineDecodeTps > 0).Select(s => s.EngineDecodeTps));

    public static PathFigures Concat(IEnumerable<PathFigures> parts)
    {
        var list = parts.ToList();
        return new PathFigures(list.SelectMany(p => p.Samples).ToList(), list.Sum(p => p.WallMs));
    }

    internal static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return 0;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}

internal sealed record ServerBenchmarkResult(
    ServerBenchmarkOptions Options, string ModelId, int VisualTokens, int LlmWidth, int LlmLayers,
    PathFigures Grpc, PathFigures InProcess,
    IReadOnlyList<TurnSample> GrpcFirstTurns, IReadOnlyList<TurnSample> GrpcFollowUps,
    IReadOnlyList<TurnSample> InProcessFirstTurns, IReadOnlyList<TurnSample> InProcessFollowUps,
    double LoadBefore, double LoadAfter, double SetupMs)
{
    // Paired ratios: request i ran the same prompt on both paths side by side, so the median of the per-request ratios
    // cancels most of the shared machine's load swings; the pooled ratios are given next to them.
    public double DecodeRatio => PairedMedian(s => s.DecodeTokensPerSecond);
    public double TtftRatio => PairedMedian(s => s.TtftMs);
    public double TotalRatio => PairedMedian(s => s.TotalMs);
    public double EngineDecodeRatio => PairedMedian(s => s.EngineDecodeTps);
    public double PooledDecodeRatio => Ratio(Grpc.DecodeTokensPerSecond, InProcess.DecodeTokensPerSecond);
    public double AggregateRatio => Ratio(Grpc.AggregateTokensPerSecond, InProcess.AggregateTokensPerSecond);
    public int ComparedAnswers => Math.Min(Grpc.Samples.Count, InProcess.Samples.Count);
    /// <summary>Requests whose gRPC answer equals the engine's (greedy: all of them, unless batching changed a near-tie).</summary>
    public int IdenticalAnswers => Enumerable.Range(0, ComparedAnswers).Count(i => Grpc.Samples[i].Text == InProcess.Samples[i].Text);

    double PairedMedian(Func<TurnSample, double> figure) => PathFigures.Median(Enumerable.Range(0, ComparedAnswers)
        .Select(i => (figure(Grpc.Samples[i]), figure(InProcess.Samples[i]))).Where(p => p.Item1 > 0 && p.Item2 > 0).Select(p => p.Item1 / p.Item2));
    public double FirstTurnTtftMs => PathFigures.Median(GrpcFirstTurns.Select(s => s.TtftMs));
    public double FollowUpTtftMs => PathFigures.Median(GrpcFollowUps.Select(s => s.TtftMs));
    public double FollowUpTtftRatio => Ratio(FollowUpTtftMs, FirstTurnTtftMs);
    public double InProcessFirstTurnTtftMs => PathFigures.Median(InProcessFirstTurns.Select(s => s.TtftMs));
    public double InProcessFollowUpTtftMs => PathFigures.Median(InProcessFollowUps.Select(s => s.TtftMs));
    public double InProcessFollowUpTtftRatio => Ratio(InProcessFollowUpTtftMs, InProcessFirstTurnTtftMs);

    public const double DecodeTarget = 0.95, FollowUpTarget = 0.2;
    public bool DecodeTargetMet => DecodeRatio >= DecodeTarget;
    public bool FollowUpTargetMet => FollowUpTtftRatio <= FollowUpTarget;

    static double Ratio(double a, double b) => b > 0 ? a / b : 0;
}

/// <summary>
/// `bench server`: the real server in-process on a loopback port, called through gRPC, against the same turn called
/// directly (<see cref="RegionChatCore"/>, no transport), in the same process and run, on the same prompts (shapes scenes with a box
/// around one object): time to first token and decode speed as the caller sees them, and a follow-up turn's time to
/// first token against its session's first turn.
/// </summary>
internal static class ServerBenchmark
{
    const string FollowUpQuestion = "what color is it?";

    internal sealed record Prompt(byte[] Png, Region Region, PbV1.Region ProtoRegion, string Question);

    public static async Task<ServerBenchmarkResult> RunAsync(ServerBenchmarkOptions o, Action<string> log, CancellationToken ct)
    {
        o.Validate();
        double loadBefore = LoadAverage();
        var setup = Stopwatch.StartNew();
        int sequences = Math.Max(8, o.Concurrency);
        string modelId = ModelManifest.Load(o.ModelDir).Id;
        // Both cores live in this process for the whole run, with the same options; the same prompts go to each.
        using var core = RegionChatCore.ForModelFolder(o.ModelDir, new RegionChatCoreOptions
        {
            Threads = o.Threads, ContextSize = o.ContextSize, ParallelSequences = sequences, BatchSize = 512,
            QueueSize = Math.Max(64, 2 * o.Concurrency), MaxTokensLimit = Math.Max(4096, o.MaxTokens),
            Models = new Dictionary<string, PerModelOptions> { [modelId] = new() { VisualTokenBudget = o.VisualTokenBudget } },
        });
        var model = core.LoadDefaultModel();
        await using var server = await InProcessServer.StartAsync(o.ModelDir, new Dictionary<string, string?>
        {
            ["RegionChat:Threads"] = o.Threads.ToString(CultureInfo.InvariantCulture),
            ["RegionChat:ContextSize"] = o.ContextSize.ToString(CultureInfo.InvariantCulture),
            ["RegionChat:ParallelSequences"] = sequences.ToString(CultureInfo.InvariantCulture),
            ["RegionChat:BatchSize"] = "512",
            ["RegionChat:QueueSize"] = Math.Max(64, 2 * o.Concurrency).ToString(CultureInfo.InvariantCulture),
            ["RegionChat:MaxTokensLimit"] = Math.Max(4096, o.MaxTokens).ToString(CultureInfo.InvariantCulture),
            [$"RegionChat:Models:{modelId}:VisualTokenBudget"] = o.VisualTokenBudget.ToString(CultureInfo.InvariantCulture),
        }).ConfigureAwait(false);
        using var client = new RegionChatClient(server.Address);
        log($"server on {server.Address} and in-process engine loaded {model.Id} in {setup.Elapsed.TotalSeconds:F1} s " +
            $"({model.VisualTokens} visual tokens, LLM width {model.EmbeddingLength} x {model.LlmLayers} layers, {o.Threads} threads)");
        double setupMs = setup.Elapsed.TotalMilliseconds;

        int resolution = model.ImageSize;
        string question = model.DefaultInstruction;

        // Warm-up: first calls pay for JIT, HTTP/2 connection set-up and first-touch allocations on both paths.
        var warm = MakePrompt(900_000, resolution, question);
        await GrpcTurnAsync(client, warm, "", warm.Question, withImage: true, o.MaxTokens, end: true, ct).ConfigureAwait(false);
        await LocalTurnAsync(core, warm, "", warm.Question, withImage: true, o.MaxTokens, end: true, ct).ConfigureAwait(false);

        // Interleaved chunks of `concurrency` requests, gRPC then in-process or the other way round, alternating: the
        // machine's load drifts, and two runs of the same prompt side by side see nearly the same load.
        var grpcChunks = new List<PathFigures>();
        var localChunks = new List<PathFigures>();
        for (int start = 0, chunk = 0; start < o.Requests; start += o.Concurrency, chunk++)
        {
            // Fresh images for every request: the server's visual-token cache must not answer what the engine computes.
            var prompts = Enumerable.Range(start, Math.Min(o.Concurrency, o.Requests - start))
                .Select(i => MakePrompt(1_000_000 + i, resolution, question)).ToList();
            for (int leg = 0; leg < 2; leg++)
            {
                if ((leg == 0) == (chunk % 2 == 0))
                    grpcChunks.Add(await RunChunkAsync(o.Concurrency, prompts, async p => (await GrpcTurnAsync(client, p, "", p.Question, withImage: true,
                        o.MaxTokens, end: true, ct).ConfigureAwait(false)).Sample, ct).ConfigureAwait(false));
                else
                    localChunks.Add(await RunChunkAsync(o.Concurrency, prompts, async p => (await LocalTurnAsync(core, p, "", p.Question, withImage: true,
                        o.MaxTokens, end: true, ct).ConfigureAwait(false)).Sample, ct).ConfigureAwait(false));
            }
            int done = start + prompts.Count;
            if (done % Math.Max(o.Concurrency, Math.Max(1, o.Requests / 4)) == 0 || done == o.Requests)
            {
                var g = PathFigures.Concat(grpcChunks);
                var l = PathFigures.Concat(localChunks);
                log($"{done}/{o.Requests} requests per path: ttft gRPC {g.TtftMedianMs:F1} / in-process {l.TtftMedianMs:F1} ms, " +
                    $"decode {g.DecodeTokensPerSecond:F1} / {l.DecodeTokensPerSecond:F1} tok/s (load {LoadAverage():F1})");
            }
        }
        var grpc = PathFigures.Concat(grpcChunks);
        var local = PathFigures.Concat(localChunks);

        // Follow-ups, one session at a time: the second turn should prefill only its own text.
        var gFirst = new List<TurnSample>();
        var gFollow = new List<TurnSample>();
        var lFirst = new List<TurnSample>();
        var lFollow = new List<TurnSample>();
        for (int j = 0; j < o.FollowUps; j++)
        {
            var p = MakePrompt(2_000_000 + j, resolution, question);
            for (int leg = 0; leg < 2; leg++)
            {
                if ((leg == 0) == (j % 2 == 0))
                {
                    var (first, session) = await GrpcTurnAsync(client, p, "", p.Question, true, o.MaxTokens, end: false, ct).ConfigureAwait(false);
                    var (follow, _) = await GrpcTurnAsync(client, p, session, FollowUpQuestion, false, o.MaxTokens, end: true, ct).ConfigureAwait(false);
                    gFirst.Add(first);
                    gFollow.Add(follow);
                }
                else
                {
                    var (first, session) = await LocalTurnAsync(core, p, "", p.Question, true, o.MaxTokens, end: false, ct).ConfigureAwait(false);
                    var (follow, _) = await LocalTurnAsync(core, p, session, FollowUpQuestion, false, o.MaxTokens, end: true, ct).ConfigureAwait(false);
                    lFirst.Add(first);
                    lFollow.Add(follow);
                }
            }
        }
        log($"follow-ups ({o.FollowUps} sessions): gRPC first turn ttft {PathFigures.Median(gFirst.Select(s => s.TtftMs)):F1} ms, " +
            $"follow-up {PathFigures.Median(gFollow.Select(s => s.TtftMs)):F1} ms " +
            $"(cached {gFollow.Select(s => s.CachedTokens).DefaultIfEmpty().Min()} " +
            $"of {gFollow.Select(s => s.PromptTokens).DefaultIfEmpty().Max()} prompt tokens)");

        return new ServerBenchmarkResult(o, model.Id, model.VisualTokens, model.EmbeddingLength, model.LlmLayers,
            grpc, local, gFirst, gFollow, lFirst, lFollow,
            loadBefore, LoadAverage(), setupMs);
    }

    /// <summary>A shapes scene scaled to about the model's input size, with a box around its first object.</summary>
    internal static Prompt MakePrompt(long seed, int resolution, string question)
    {
        var scene = ShapesGenerator.Generate(seed);
        int scale = Math.Max(1, resolution / scene.Width);
        using var image = scene.ToImage(scale);
        using var png = new MemoryStream();
        image.Save(png, new PngEncoder());
        var box = scene.Objects[0].Box;
        var region = new RegionDescription.Box(box.X0 * scale, box.Y0 * scale, box.X1 * scale, box.Y1 * scale);
        return new Prompt(png.ToArray(), Region.From(region), ImageRegion.From(region).ToProto(), question);
    }

    static async Task<PathFigures> RunChunkAsync(int concurrency, IReadOnlyList<Prompt> prompts, Func<Prompt, Task<TurnSample>> turn, CancellationToken ct)
    {
        var samples = new TurnSample[prompts.Count];
        var wall = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, prompts.Count), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (i, _) => samples[i] = await turn(prompts[i]).ConfigureAwait(false)).ConfigureAwait(false);
        return new PathFigures(samples, wall.Elapsed.TotalMilliseconds);
    }

    /// <summary>One Chat call, timed from sending the request (image bytes inline) to its first text and its end.</summary>
    static async Task<(TurnSample Sample, string Session)> GrpcTurnAsync(RegionChatClient client, Prompt p, string session,
        string text, bool withImage, int maxTokens, bool end, CancellationToken ct)
    {
        var request = new PbV1.ChatRequest
        {
            SessionId = session,
            Message = new PbV1.UserMessage { Text = text },
            MaxTokens = (uint)maxTokens,
        };
        if (withImage)
        {
            request.Message.Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(p.Png) };
            request.Message.Region = p.ProtoRegion;
        }
        var clock = Stopwatch.StartNew();
        double first = -1;
        PbV1.ChatStarted? started = null;
        PbV1.ChatFinished? finished = null;
        var answer = new System.Text.StringBuilder();
        await foreach (var e in client.ChatStreamAsync(request, ct).ConfigureAwait(false))
        {
            switch (e.EventCase)
            {
                case PbV1.ChatEvent.EventOneofCase.Started: started = e.Started; break;
                case PbV1.ChatEvent.EventOneofCase.Delta:
                    if (first < 0) first = clock.Elapsed.TotalMilliseconds;
                    answer.Append(e.Delta.Text);
                    break;
                case PbV1.ChatEvent.EventOneofCase.Finished: finished = e.Finished; break;
            }
        }
        double total = clock.Elapsed.TotalMilliseconds;
        if (started == null || finished == null) throw new InvalidOperationException("the server's Chat stream ended without its started/finished events");
        if (end) await client.EndSessionAsync(started.SessionId, ct).ConfigureAwait(false);
        if (first < 0) first = total;
        return (new TurnSample(first, total - first, (int)finished.Usage.CompletionTokens, (int)started.PromptTokens,
            (int)started.CachedTokens, answer.ToString(),
            finished.Timings?.DecodeTokensPerSecond ?? 0), started.SessionId);
    }

    /// <summary>The same turn on the core directly, timed like <see cref="GrpcTurnAsync"/>: from handing over the
    /// request (image bytes inline) to its first text and its end.</summary>
    static async Task<(TurnSample Sample, string Session)> LocalTurnAsync(RegionChatCore core, Prompt p, string session,
        string text, bool withImage, int maxTokens, bool end, CancellationToken ct)
    {
        var image = withImage ? new TurnImage(ImageInput.FromBytes(p.Png), RegionSource.Of(p.Region)) : null;
        var turn = new TurnRequest
        {
            SessionId = session, Messages = [TurnMessage.User(text, image)], Sampling = new SamplingOptions { MaxTokens = maxTokens },
            KeepSession = true,
        };
        var clock = Stopwatch.StartNew();
        double first = -1;
        TurnStarted? started = null;
        TurnFinished? finished = null;
        var answer = new System.Text.StringBuilder();
        await foreach (var e in core.RunTurnAsync(turn, ct).ConfigureAwait(false))
        {
            switch (e)
            {
                case TurnStarted s: started = s; break;
                case TurnText t:
                    if (first < 0) first = clock.Elapsed.TotalMilliseconds;
                    answer.Append(t.Text);
                    break;
                case TurnFinished f: finished = f; break;
            }
        }
        double total = clock.Elapsed.TotalMilliseconds;
        if (started == null || finished == null || finished.Reason == TurnFinishReason.Cancelled)
            throw new OperationCanceledException("the in-process turn was cancelled");
        if (end) core.EndSession(started.SessionId);
        if (first < 0) first = total;
        return (new TurnSample(first, total - first, finished.Usage.CompletionTokens, started.PromptTokens, started.CachedTokens, answer.ToString(),
            finished.Timings.DecodeTokensPerSecond), started.SessionId);
    }

    /// <summary>The 1-minute load average (Linux), or NaN: the machine is shared, so results say how busy it was.</summary>
    internal static double LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return double.NaN; }
    }
}
