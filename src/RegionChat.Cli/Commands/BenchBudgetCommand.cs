using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench budget --model DIR | --synth [--synth-dir DIR] --visual-token-budget K [--pairs N] [--threads T] [--vision-dtype D]
/// [--json]`:
/// a whole image turn (image bytes in, one token out) at every visual token against the same turn at K, in one process,
/// on the same fresh image per pair, alternating which goes first: time to first token, vision and prefill, prompt
/// positions and the KV cache a session holds, as medians and as the pairs' ratios K / all.
/// </summary>
internal static class BenchBudgetCommand
{
    internal sealed record Turn(double TtftMs, double ImageMs, double VisionMs, double PrefillMs, int PromptTokens, int VisualTokens)
    {
        /// <summary>Time to first token outside image decoding, vision and prefill: request checks, region, queue, first pick.</summary>
        public double OtherMs => TtftMs - ImageMs - VisionMs - PrefillMs;
    }

    internal sealed record Pair(Turn All, Turn Budget)
    {
        public double TtftRatio => All.TtftMs > 0 ? Budget.TtftMs / All.TtftMs : 0;
        public double PrefillRatio => All.PrefillMs > 0 ? Budget.PrefillMs / All.PrefillMs : 0;
    }

    internal sealed record Result(string ModelId, int Budget, int Threads, string VisionDtype, long KvBytesPerPosition,
        IReadOnlyList<Pair> Pairs, double LoadBefore, double LoadAfter)
    {
        public const double TtftTarget = 0.35;
        public double TtftRatioMedian => PathFigures.Median(Pairs.Select(p => p.TtftRatio));
        public double TtftRatioMax => Pairs.Max(p => p.TtftRatio);
        public double PrefillRatioMedian => PathFigures.Median(Pairs.Select(p => p.PrefillRatio));
        public double Median(Func<Pair, double> figure) => PathFigures.Median(Pairs.Select(figure));
    }

    /// <summary>LLaVA-1.5's tower (ViT-L/14@336, 576 patches) with a TinyLlama-1.1B-shaped f16 LLM: issue 17's TTFT geometry.</summary>
    internal static readonly BenchModelSynth.Shape TinyLlamaLlava = new(Resolution: 336, Patch: 14, VisionWidth: 1024, VisionLayers: 24,
        VisionHeads: 16, Embd: 2048, Layers: 22, Heads: 32, KvHeads: 4, FeedForward: 5632, Vocab: 32000, WeightType: GgmlType.F16);

    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "Model folder (holding model.json)." };
        var synth = new Option<bool>("--synth") { Description = "Write a random-weight model to a temp folder: ViT-L/14@336 tower (576 visual " +
            "tokens), mlp2x_gelu projector 1024→2048, TinyLlama-1.1B-shaped f16 LLM (2048 x 22, 4 KV heads); 3.4 GB." };
        var synthDir = new Option<DirectoryInfo?>("--synth-dir") { Description = "With --synth: write to (or reuse) this folder instead of a temp one." };
        var budget = Int("--visual-token-budget", "Visual tokens kept in the budget leg of each pair (the other keeps all).", 144);
        var pairs = Int("--pairs", "Pairs of turns, each on a fresh image.", 3);
        var threads = Int("--threads", "CPU threads for llama.cpp and TorchSharp.", Environment.ProcessorCount);
        var dtype = new Option<string>("--vision-dtype") { Description = "Vision number type (float32 or fp32, bfloat16 or bf16, auto; default: the model's).",
            DefaultValueFactory = _ => "" };
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure." };
        var command = new Command("budget", "Time a whole image turn at every visual token against the same turn at a visual-token budget.");
        foreach (var o in new Option[] { model, synth, synthDir, budget, pairs, threads, dtype, json }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            string? temp = null;
            try
            {
                int k = parse.GetValue(budget), n = parse.GetValue(pairs), t = parse.GetValue(threads);
                if (k < 1) throw new ArgumentException($"--visual-token-budget must be at least 1, got {k}");
                if (n is < 1 or > 1000) throw new ArgumentException($"--pairs must be in [1, 1000], got {n}");
                if (t is < 1 or > 1024) throw new ArgumentException($"--threads must be in [1, 1024], got {t}");
                string dir = BenchModelSynth.Folder(parse.GetValue(model), parse.GetValue(synth), parse.GetValue(synthDir), TinyLlamaLlava,
                    "synth-budget", error, out temp);
                var r = await RunAsync(dir, k, n, t, parse.GetValue(dtype)!, line => error.WriteLine(line), ct).ConfigureAwait(false);
                Print(r, output);
                if (parse.GetValue(json)) output.WriteLine(Json(r));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or RegionChatCoreException)
            {
                error.WriteLine($"error: {e.Message}");
                return 1;
            }
            finally
            {
                if (temp != null) try { Directory.Delete(temp, true); } catch (IOException) { }
            }
        });
        return command;
    }

    internal static async Task<Result> RunAsync(string modelDir, int budget, int pairs, int threads, string visionDtype, Action<string> log,
        CancellationToken ct)
    {
        double loadBefore = ServerBenchmark.LoadAverage();
        var manifest = ModelManifest.Load(modelDir);
        long kvBytes = KvBytesPerPosition(Path.GetFullPath(Path.Combine(modelDir, manifest.Llm.Gguf)));
        var setup = Stopwatch.StartNew();
        using var core = RegionChatCore.ForModelFolder(modelDir, new RegionChatCoreOptions
        {
            Threads = threads, ContextSize = 4096, ParallelSequences = 1, BatchSize = 512, VisionDtype = visionDtype, VisualCacheBytes = 0,
            TowerPixelCacheBytes = 0,
        });
        var m = core.LoadDefaultModel();
        if (budget >= m.VisualTokens) throw new ArgumentException($"--visual-token-budget {budget} keeps all {m.VisualTokens} visual tokens");
        string dtype = VisionPrecision.Resolve(visionDtype.Length == 0 ? manifest.Vision.Dtype : visionDtype, Accelerators.Cpu);
        log($"loaded {m.Id} in {setup.Elapsed.TotalSeconds:F1} s ({m.VisualTokens} visual tokens, vision {dtype}, {threads} threads)");

        // Warm-up at both budgets: JIT, first-touch allocations, graph set-up.
        var warm = ServerBenchmark.MakePrompt(900_000, m.ImageSize, m.DefaultInstruction);
        await TurnAsync(core, warm, 0, ct).ConfigureAwait(false);
        await TurnAsync(core, warm, budget, ct).ConfigureAwait(false);

        var list = new List<Pair>();
        for (int i = 0; i < pairs; i++)
        {
            // A fresh image per pair, the same on both legs (the visual-token cache is off).
            var p = ServerBenchmark.MakePrompt(4_000_000 + i, m.ImageSize, m.DefaultInstruction);
            Turn? all = null, kept = null;
            for (int leg = 0; leg < 2; leg++)
            {
                LlmBenchmark.Settle();
                if ((leg == 0) == (i % 2 == 0)) all = await TurnAsync(core, p, 0, ct).ConfigureAwait(false);
                else kept = await TurnAsync(core, p, budget, ct).ConfigureAwait(false);
            }
            var pair = new Pair(all!, kept!);
            list.Add(pair);
            log(string.Create(CultureInfo.InvariantCulture, $"pair {i + 1}/{pairs} ({(i % 2 == 0 ? "all first" : "budget first")}): ttft " +
                $"{pair.All.TtftMs:F0} / {pair.Budget.TtftMs:F0} ms ({pair.TtftRatio:F3}), vision {pair.All.VisionMs:F0} / {pair.Budget.VisionMs:F0} ms, " +
                $"prefill {pair.All.PrefillMs:F0} / {pair.Budget.PrefillMs:F0} ms, image {pair.All.ImageMs:F0} / {pair.Budget.ImageMs:F0} ms, " +
                $"other {pair.All.OtherMs:F0} / {pair.Budget.OtherMs:F0} ms (load {ServerBenchmark.LoadAverage():F1})"));
        }
        return new Result(m.Id, budget, threads, dtype, kvBytes, list, loadBefore, ServerBenchmark.LoadAverage());
    }

    /// <summary>K and V of one position in every layer, f16 (the engine's cache type).</summary>
    static long KvBytesPerPosition(string gguf)
    {
        using var f = GgufFile.Open(gguf);
        string a = f.GetStringOrNull("general.architecture") ?? "llama";
        long layers = f.GetInt64(a + ".block_count"), embd = f.GetInt64(a + ".embedding_length"), heads = f.GetInt64(a + ".attention.head_count");
        long kvHeads = f.GetInt64OrNull(a + ".attention.head_count_kv") ?? heads;
        return layers * kvHeads * (embd / heads) * 2 * 2;
    }

    static async Task<Turn> TurnAsync(RegionChatCore core, ServerBenchmark.Prompt p, int budget, CancellationToken ct)
    {
        var r = await FirstTokenTurn.RunAsync(core, p, budget, ct).ConfigureAwait(false);
        var t = r.Finished.Timings;
        return new Turn(r.TtftMs, t.ImageDecodeMs, t.VisionEncodeMs, t.PrefillMs, r.Started.PromptTokens, r.Started.VisualTokens);
    }

    static void Print(Result r, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var all = r.Pairs[0].All;
        var kept = r.Pairs[0].Budget;
        output.WriteLine(string.Create(c, $"model {r.ModelId}: vision {r.VisionDtype}, {r.Threads} threads, {r.Pairs.Count} pairs; " +
            $"load avg {r.LoadBefore:F2} → {r.LoadAfter:F2}"));
        output.WriteLine(string.Create(c, $"{"",-26}{"all",12}{"budget " + r.Budget,12}{"ratio median",14}"));
        output.WriteLine(string.Create(c, $"{"visual tokens",-26}{all.VisualTokens,12}{kept.VisualTokens,12}" +
            $"{(double)kept.VisualTokens / all.VisualTokens,14:F3}"));
        output.WriteLine(string.Create(c, $"{"prompt positions",-26}{all.PromptTokens,12}{kept.PromptTokens,12}" +
            $"{(double)kept.PromptTokens / all.PromptTokens,14:F3}"));
        output.WriteLine(string.Create(c, $"{"image decode (ms)",-26}{r.Median(p => p.All.ImageMs),12:F0}{r.Median(p => p.Budget.ImageMs),12:F0}"));
        output.WriteLine(string.Create(c, $"{"vision (ms)",-26}{r.Median(p => p.All.VisionMs),12:F0}{r.Median(p => p.Budget.VisionMs),12:F0}"));
        output.WriteLine(string.Create(c, $"{"prefill (ms)",-26}{r.Median(p => p.All.PrefillMs),12:F0}{r.Median(p => p.Budget.PrefillMs),12:F0}" +
            $"{r.PrefillRatioMedian,14:F3}"));
        output.WriteLine(string.Create(c, $"{"other (ms)",-26}{r.Median(p => p.All.OtherMs),12:F0}{r.Median(p => p.Budget.OtherMs),12:F0}"));
        output.WriteLine(string.Create(c, $"{"time to first token (ms)",-26}{r.Median(p => p.All.TtftMs),12:F0}{r.Median(p => p.Budget.TtftMs),12:F0}" +
            $"{r.TtftRatioMedian,14:F3}"));
        output.WriteLine(string.Create(c, $"{"KV cache per session",-26}{Mib(all.PromptTokens * r.KvBytesPerPosition),12}" +
            $"{Mib(kept.PromptTokens * r.KvBytesPerPosition),12}  ({r.KvBytesPerPosition} bytes per position, f16)"));
        output.WriteLine(string.Create(c, $"time to first token ratio: median {r.TtftRatioMedian:F3}, worst pair {r.TtftRatioMax:F3} " +
            $"(issue 17's goal at 144 of 576: ≤ {Result.TtftTarget})"));
    }

    static string Mib(long bytes) => bytes >= 1 << 20
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB");

    static string Json(Result r) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = r.ModelId,
        ["visual_token_budget"] = r.Budget,
        ["threads"] = r.Threads,
        ["vision_dtype"] = r.VisionDtype,
        ["pairs"] = r.Pairs.Count,
        ["visual_tokens_all"] = r.Pairs[0].All.VisualTokens,
        ["visual_tokens_budget"] = r.Pairs[0].Budget.VisualTokens,
        ["prompt_positions_all"] = r.Pairs[0].All.PromptTokens,
        ["prompt_positions_budget"] = r.Pairs[0].Budget.PromptTokens,
        ["kv_bytes_per_position"] = r.KvBytesPerPosition,
        ["ttft_ms_all"] = Round(r.Median(p => p.All.TtftMs)),
        ["ttft_ms_budget"] = Round(r.Median(p => p.Budget.TtftMs)),
        ["image_ms_all"] = Round(r.Median(p => p.All.ImageMs)),
        ["image_ms_budget"] = Round(r.Median(p => p.Budget.ImageMs)),
        ["other_ms_all"] = Round(r.Median(p => p.All.OtherMs)),
        ["other_ms_budget"] = Round(r.Median(p => p.Budget.OtherMs)),
        ["vision_ms_all"] = Round(r.Median(p => p.All.VisionMs)),
        ["vision_ms_budget"] = Round(r.Median(p => p.Budget.VisionMs)),
        ["prefill_ms_all"] = Round(r.Median(p => p.All.PrefillMs)),
        ["prefill_ms_budget"] = Round(r.Median(p => p.Budget.PrefillMs)),
        ["ttft_ratio_median"] = Round(r.TtftRatioMedian),
        ["ttft_ratio_max"] = Round(r.TtftRatioMax),
        ["prefill_ratio_median"] = Round(r.PrefillRatioMedian),
        ["pair_ttft_ratios"] = r.Pairs.Select(p => Round(p.TtftRatio)).ToList(),
        ["load_avg_before"] = double.IsFinite(r.LoadBefore) ? r.LoadBefore : null,
        ["load_avg_after"] = double.IsFinite(r.LoadAfter) ? r.LoadAfter : null,
    });

    static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;
}
