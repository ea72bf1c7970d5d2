using System.Diagnostics;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Engine;

/// <summary>What <see cref="LlmBenchmark"/> measures.</summary>
public sealed record LlmBenchmarkOptions
{
    public required string ModelPath { get; init; }
    /// <summary>Injected rows per sequence in the prefill measurement (LLaVA-1.5: 576 visual tokens).</summary>
    public int PromptEmbeddings { get; init; } = 576;
    /// <summary>Tokens generated per sequence in the decode measurements.</summary>
    public int Tokens { get; init; } = 64;
    public int Threads { get; init; } = 2;
    /// <summary>Concurrent sequences in the prefill and aggregate-decode measurements.</summary>
    public int Sequences { get; init; } = 4;
    public int BatchSize { get; init; } = 512;
    /// <summary>Runs of each measurement, alternating which side goes first; the best run of each side counts.</summary>
    public int Repeat { get; init; } = 2;

    public void Validate()
    {
        if (!File.Exists(ModelPath)) throw new FileNotFoundException($"GGUF model not found: {ModelPath}", ModelPath);
        if (PromptEmbeddings is < 1 or > 16384) throw new ArgumentOutOfRangeException(nameof(PromptEmbeddings), PromptEmbeddings,
            "prompt embeddings must be 1..16384");
        if (Tokens is < 2 or > 4096) throw new ArgumentOutOfRangeException(nameof(Tokens), Tokens, "tokens must be 2..4096");
        if (Threads is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "threads must be 1..256");
        if (Sequences is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(Sequences), Sequences, "sequences must be 1..64");
        if (Repeat is < 1 or > 20) throw new ArgumentOutOfRangeException(nameof(Repeat), Repeat, "repeat must be 1..20");
        if (BatchSize < Sequences || BatchSize > 8192) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize,
            "batch size must be sequences..8192");
    }

    /// <summary>Cells for every sequence's prompt plus output, rounded up to 256.</summary>
    internal int ContextSize => (Sequences * (PromptEmbeddings + Tokens + 16) + 255) / 256 * 256;
}

/// <summary>Throughput of one way of running the model.</summary>
/// <param name="PrefillTokensPerSecond">Injected rows per second, all sequences' prompts in batches of BatchSize.</param>
/// <param name="DecodeTokensPerSecond">Generated tokens per second with one sequence.</param>
/// <param name="AggregateDecodeTokensPerSecond">Generated tokens per second summed over the concurrent sequences.</param>
public sealed record LlmThroughput(double PrefillTokensPerSecond, double DecodeTokensPerSecond, double AggregateDecodeTokensPerSecond)
{
    /// <summary>How much batching the sequences' decode steps gains over one sequence.</summary>
    public double AggregateSpeedup => AggregateDecodeTokensPerSecond / DecodeTokensPerSecond;
}

/// <summary>engine / bare of each phase, the median over the repeats of each back-to-back pair's ratio.</summary>
public sealed record LlmPairRatios(double Prefill, double Decode, double AggregateDecode);

/// <param name="EngineOverhead">Fraction of the engine loop's step time spent outside llama_decode (batch building,
/// sampling, streaming): the engine's own cost, which machine noise does not blur.</param>
/// <param name="PairRatios">engine / bare per phase as the median over the repeats of each back-to-back pair's ratio:
/// steadier than the ratio of the two bests, which one lucky or unlucky run moves.</param>
/// <param name="JsonMaskMs">What constraining one step to JSON costs on this vocabulary: the mask over every token,
/// milliseconds per step, averaged over the states of a sample answer.</param>
/// <param name="RegexMaskMs">The same for a regular expression (<see cref="RegexMaskPattern"/>), its automaton built
/// as the answer goes, as a request's is.</param>
public sealed record LlmBenchmarkResult(LlmBenchmarkOptions Options, LlmModelFacts Facts, LlmThroughput Engine, LlmThroughput Bare,
    double EngineOverhead, LlmPairRatios PairRatios, double JsonMaskMs = 0, double RegexMaskMs = 0)
{
    public const string RegexMaskPattern = "(a|an|the) (small|large) [a-z]+ [a-z]+( at [0-9]{1,3}, [0-9]{1,3})?\\.";

    /// <summary>The JSON mask's time as a share of one engine decode step of one sequence.</summary>
    public double JsonMaskShare => JsonMaskMs * Engine.DecodeTokensPerSecond / 1000;

    /// <summary>The regex mask's time as a share of one engine decode step of one sequence.</summary>
    public double RegexMaskShare => RegexMaskMs * Engine.DecodeTokensPerSecond / 1000;

    public double PrefillRatio => Engine.PrefillTokensPerSecond / Bare.PrefillTokensPerSecond;
    public double DecodeRatio => Engine.DecodeTokensPerSecond / Bare.DecodeTokensPerSecond;
    public double AggregateDecodeRatio => Engine.AggregateDecodeTokensPerSecond / Bare.AggregateDecodeTokensPerSecond;
}

/// <summary>
/// Times the engine against a bare LLamaSharp loop (LLamaBatchEmbeddings / LLamaBatch + Decode + argmax, nothing
/// else) doing the same work in the same process, phase by phase, so machine noise hits both alike: prefill of
/// Sequences × PromptEmbeddings random rows, greedy decode of one sequence, and greedy decode of Sequences at once.
/// Generation ignores EOS so every run makes the same number of tokens.
/// </summary>
public static class LlmBenchmark
{
    public static async Task<LlmBenchmarkResult> RunAsync(LlmBenchmarkOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        progress ??= _ => { };
        var engineOptions = new LlmEngineOptions
        {
            ModelPath = options.ModelPath,
            ContextSize = options.ContextSize,
            BatchSize = options.BatchSize,
            Threads = options.Threads,
            BatchThreads = options.Threads,
            MaxSequences = options.Sequences,
        };
        using var engine = LlmEngine.Load(engineOptions);
        using var bare = new BareLlamaLoop(engineOptions);
        var f = engine.Facts;
        progress($"model: {f.Description}, n_embd {f.EmbeddingWidth}, vocab {f.VocabSize}, {f.LayerCount} layers; " +
                 $"context {f.ContextSize}, batch {f.BatchSize}, threads {options.Threads}");

        var blocks = Enumerable.Range(0, options.Sequences)
            .Select(i => RandomRows(options.PromptEmbeddings, f.EmbeddingWidth, seed: 1000 + i)).ToArray();
        var prompts = Enumerable.Range(0, options.Sequences).Select(i => PromptTokens(f, i)).ToArray();
        var greedy = SamplingParams.Greedy(options.Tokens) with { IgnoreEos = true };

        // Warm-up: first decodes allocate compute buffers.
        await Generate(engine, [PromptSegment.Tokens(prompts[0])], SamplingParams.Greedy(4) with { IgnoreEos = true });
        bare.Decode([prompts[0]], 4);

        int rows = options.Sequences * options.PromptEmbeddings;
        var busyBefore = engine.Scheduler.BusyTicks;
        var (enginePrefill, barePrefill, prefillPairs) = await Compare(options.Repeat, progress, $"prefill {options.Sequences}×{options.PromptEmbeddings} rows",
            async () =>
            {
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(blocks.Select(b => Generate(engine, [PromptSegment.Embeddings(b)], SamplingParams.Greedy(1) with { IgnoreEos = true })));
                return rows / clock.Elapsed.TotalSeconds;
            },
            () => rows / bare.Prefill(blocks).TotalSeconds);

        var (engineDecode, bareDecode, decodePairs) = await Compare(options.Repeat, progress, "decode, 1 sequence",
            async () => (await Generate(engine, [PromptSegment.Tokens(prompts[0])], greedy)).Timings.DecodeTokensPerSecond,
            () => (options.Tokens - 1) / bare.Decode([prompts[0]], options.Tokens).TotalSeconds);

        var (engineAggregate, bareAggregate, aggregatePairs) = await Compare(options.Repeat, progress, $"decode, {options.Sequences} sequences",
            async () =>
            {
                var many = await Task.WhenAll(prompts.Select(p => Generate(engine, [PromptSegment.Tokens(p)], greedy)));
                // The sequences share their decode steps, so the longest decode time is the phase's wall time.
                return many.Sum(r => r.Timings.DecodeSteps) / many.Max(r => r.Timings.DecodeMs) * 1000;
            },
            () => options.Sequences * (options.Tokens - 1) / bare.Decode(prompts, options.Tokens).TotalSeconds);

        var busyAfter = engine.Scheduler.BusyTicks;
        double overhead = 1 - (double)(busyAfter.LlamaTicks - busyBefore.LlamaTicks) / (busyAfter.StepTicks - busyBefore.StepTicks);
        progress($"engine loop time outside llama_decode: {overhead * 100:F3}%");

        double maskMs = MaskMilliseconds(engine, OutputFormat.JsonObject,
            """{"object": "a small red circle", "count": 12, "size": 0.25, "tags": ["left", "round"], "visible": true}"""u8.ToArray());
        progress($"JSON mask per step, mean over a sample answer's states: {maskMs:F3} ms");
        double regexMs = MaskMilliseconds(engine, OutputFormat.Regex(LlmBenchmarkResult.RegexMaskPattern), "the small red circle at 12, 40."u8.ToArray());
        progress($"regex mask per step, mean over a sample answer's states: {regexMs:F3} ms");

        return new LlmBenchmarkResult(options, f,
            new LlmThroughput(enginePrefill, engineDecode, engineAggregate),
            new LlmThroughput(barePrefill, bareDecode, bareAggregate), overhead, new LlmPairRatios(prefillPairs, decodePairs, aggregatePairs),
            maskMs, regexMs);
    }

    /// <summary>A format's mask time per step, the mean over every state of a sample answer (each byte of it: for JSON
    /// strings, numbers, keys and punctuation), the median of 5 such means, each with a new cursor.</summary>
    static double MaskMilliseconds(LlmEngine engine, OutputFormat format, byte[] answer)
    {
        var vocabulary = engine.OutputTokens;
        var random = new Random(7);
        var logits = new float[vocabulary.Count];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)random.NextDouble();
        var scores = new float[logits.Length];
        var means = new List<double>();
        for (int run = 0; run < 5; run++)
        {
            var cursor = format.Start();
            long ticks = 0;
            foreach (byte b in answer)
            {
                logits.CopyTo(scores, 0);
                long start = Stopwatch.GetTimestamp();
                cursor.Mask(scores, vocabulary);
                ticks += Stopwatch.GetTimestamp() - start;
                cursor.Advance([b]);
            }
            means.Add(ticks * 1000.0 / Stopwatch.Frequency / answer.Length);
        }
        means.Sort();
        return means[means.Count / 2];
    }

    /// <summary>Runs both sides <paramref name="repeat"/> times, alternating which goes first; returns each side's best
    /// and the median of the pairs' engine / bare ratios.</summary>
    static async Task<(double Engine, double Bare, double MedianPairRatio)> Compare(int repeat, Action<string> progress, string what,
        Func<Task<double>> engine, Func<double> bare)
    {
        double bestEngine = 0, bestBare = 0;
        var ratios = new List<double>();
        for (int i = 0; i < repeat; i++)
        {
            double e, b;
            if (i % 2 == 0) { Settle(); e = await engine(); Settle(); b = bare(); }
            else { Settle(); b = bare(); Settle(); e = await engine(); }
            bestEngine = Math.Max(bestEngine, e);
            bestBare = Math.Max(bestBare, b);
            ratios.Add(e / b);
            progress($"{what}: engine {e:F2} tok/s, bare {b:F2} tok/s, ratio {e / b:F3}{(i % 2 == 0 ? "" : " (bare first)")}");
        }
        ratios.Sort();
        double median = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[ratios.Count / 2 - 1] + ratios[ratios.Count / 2]) / 2;
        return (bestEngine, bestBare, median);
    }

    /// <summary>Lets a timed run start without the previous one's garbage or busy threads: a full blocking collection, then
    /// a pause in which llama.cpp's worker threads stop polling (in session 10 a run right after a bare run was up to 12 %
    /// slower). Other benchmarks that alternate runs call it too.</summary>
    public static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        Thread.Sleep(200);
    }

    static async Task<GenerationFinished> Generate(LlmEngine engine, IReadOnlyList<PromptSegment> prompt, SamplingParams sampling)
    {
        using var session = engine.CreateSession(keepHistory: false);
        GenerationFinished? final = null;
        await foreach (var e in engine.GenerateAsync(session, prompt, sampling)) final = e as GenerationFinished ?? final;
        return final!;
    }

    /// <summary>BOS and seven fixed ordinary tokens, different per sequence.</summary>
    static int[] PromptTokens(LlmModelFacts f, int i)
    {
        var ids = Enumerable.Range(0, 7).Select(k => (f.VocabSize / 2 + 97 * (i * 7 + k)) % f.VocabSize);
        return f.BosToken is int bos ? [bos, .. ids] : [.. ids];
    }

    static EmbeddingBlock RandomRows(int rows, int width, int seed)
    {
        var rng = new Random(seed);
        var data = new float[rows * width];
        float a = (float)(Math.Sqrt(3.0 / width));
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * a;
        return new EmbeddingBlock(data, width);
    }
}
