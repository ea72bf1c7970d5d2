using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench vision`: forward latency of a randomly initialised Alpha-CLIP encoder (ViT-L/14@336 by default),
/// and its achieved GFLOP/s as a fraction of a large fp32 matmul timed in the same process.
/// </summary>
internal static class BenchVisionCommand
{
    sealed record Settings(AlphaClipConfig Config, int Batch, int? Threads, int Warmup, int Runs, ScalarType DType, int GemmSize, bool Json, bool CpuClock,
        bool Profile);

    public static Command Create()
    {
        var size = Int("--size", "Input resolution.", 336);
        var patch = Int("--patch", "Patch size.", 14);
        var width = Int("--width", "Transformer width.", 1024);
        var layers = Int("--layers", "Transformer blocks.", 24);
        var heads = Int("--heads", "Attention heads.", 16);
        var outputDim = Int("--output-dim", "Pooled projection size.", 768);
        var batch = Int("--batch", "Images per forward.", 1);
        var warmup = Int("--warmup", "Untimed forwards first (a fresh process's first few run slower: 68 % of the matmul peak " +
            "after 1, 76-84 % after 4).", 3);
        var runs = Int("--runs", "Timed forwards (median reported).", 3);
        var gemm = Int("--gemm-size", "Side of the square fp32 matmul that measures the machine's practical peak.", 2048);
        var threads = new Option<int?>("--threads") { Description = "Torch CPU threads (default: libtorch's choice)." };
        var dtype = new Option<string>("--dtype") { Description = "Encoder compute dtype.", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16", "fp16");
        var cpuClock = new Option<bool>("--cpu-clock")
        {
            Description = "Time with this process's CPU time ÷ threads instead of the wall clock: steadier on a machine other " +
                "processes load, exact at --threads 1 (with more threads, OpenMP spin-waits count as work).",
        };
        var profile = new Option<bool>("--profile") { Description = "Also time each op of a block alone at the tower's shapes (matrix " +
            "products, attention, layer norms, QuickGELU, copies), times the block count: where a forward's time goes." };
        var json = new Option<bool>("--json") { Description = "End with one JSON line: median_ms, images_per_s, gflops, gemm_gflops, gemm_fraction." };

        var command = new Command("vision", "Time the Alpha-CLIP encoder forward (random weights) against a large fp32 matmul.");
        foreach (var o in new Option[] { size, patch, width, layers, heads, outputDim, batch, threads, warmup, runs, dtype, gemm, cpuClock, profile, json })
            command.Options.Add(o);
        command.SetAction(parse => VisionCommands.Guard(() => Run(new Settings(
            new AlphaClipConfig(parse.GetValue(size), parse.GetValue(patch), parse.GetValue(width), parse.GetValue(layers),
                parse.GetValue(heads), parse.GetValue(outputDim)).Validate(),
            parse.GetValue(batch), parse.GetValue(threads), parse.GetValue(warmup), parse.GetValue(runs),
            VisionEncodeCommand.ParseDType(parse.GetValue(dtype)!), parse.GetValue(gemm), parse.GetValue(json), parse.GetValue(cpuClock),
            parse.GetValue(profile)))));
        return command;
    }

    static int Run(Settings s)
    {
        if (s.Batch is < 1 or > 256) throw new ArgumentException($"--batch must be 1..256, got {s.Batch}");
        if (s.Runs is < 1 or > 1000) throw new ArgumentException($"--runs must be 1..1000, got {s.Runs}");
        if (s.Warmup is < 0 or > 1000) throw new ArgumentException($"--warmup must be 0..1000, got {s.Warmup}");
        if (s.GemmSize is < 64 or > 8192) throw new ArgumentException($"--gemm-size must be 64..8192, got {s.GemmSize}");
        if (s.Threads is { } t)
        {
            if (t < 1) throw new ArgumentException($"--threads must be ≥ 1, got {t}");
            torch.set_num_threads(t);
        }
        var c = s.Config;
        var timer = new BenchClock(s.CpuClock);
        Console.WriteLine($"encoder: {c.InputResolution}px patch {c.PatchSize} width {c.Width} layers {c.Layers} heads {c.Heads}, " +
            $"batch {s.Batch}, {s.DType}, threads {torch.get_num_threads()}");

        using var a = randn(s.GemmSize, s.GemmSize);
        using var b = randn(s.GemmSize, s.GemmSize);
        var gemm = new List<double>();
        a.mm(b).Dispose();   // first call initialises the BLAS
        TimeGemm(a, b, gemm, 4, timer);
        torch.manual_seed(0);
        using var model = new AlphaClipVisionTransformer(c, s.DType);
        using var image = randn(s.Batch, 3, c.InputResolution, c.InputResolution);
        using TorchSharp.Scalar alphaScale = 1.9231;   // alive past the native call (see RootedScalars)
        using var alpha = randn(s.Batch, 1, c.InputResolution, c.InputResolution).sign_().mul_(alphaScale);

        for (int i = 0; i < s.Warmup; i++) model.EncodePooled(image, alpha).Dispose();
        var times = new List<double>();
        for (int i = 0; i < s.Runs; i++)
        {
            times.Add(timer.Milliseconds(() => model.EncodePooled(image, alpha).Dispose()));
            // Matmuls interleaved with the forwards see the same background load.
            TimeGemm(a, b, gemm, 2, timer);
        }

        double gemmPeak = gemm.Max(), gemmMedian = Median(gemm);
        double medianMs = Median(times), minMs = times.Min();
        double flops = c.ForwardFlops(s.Batch);
        double gflops = flops / (medianMs / 1000) / 1e9, bestGflops = flops / (minMs / 1000) / 1e9;
        double imagesPerSecond = s.Batch / (medianMs / 1000);
        if (s.CpuClock) Console.WriteLine("(times are CPU time ÷ threads, not wall clock)");
        Console.WriteLine($"forward: median {medianMs:F1} ms over {s.Runs} runs (min {minMs:F1}, max {times.Max():F1}), {imagesPerSecond:F3} images/s");
        Console.WriteLine($"work: {flops / 1e9:F1} GFLOP per forward → {gflops:F1} GFLOP/s (best run {bestGflops:F1})");
        Console.WriteLine($"fp32 matmul {s.GemmSize}³ ×{gemm.Count}: best {gemmPeak:F1} GFLOP/s, median {gemmMedian:F1}");
        Console.WriteLine($"encoder at {gflops / gemmPeak:P1} of the matmul peak (best run vs best matmul: {bestGflops / gemmPeak:P1})");
        if (gemmMedian < 0.85 * gemmPeak || times.Max() > 1.3 * minMs)
            Console.WriteLine("note: repeated timings vary by more than 15-30% — another process is probably using the CPU; numbers are noisy.");
        IReadOnlyList<VisionOpProfile.Part>? parts = null;
        if (s.Profile)
        {
            parts = VisionOpProfile.Run(c, s.Batch, s.DType, Math.Max(3, s.Runs));
            Console.WriteLine($"ops of a block timed alone at the tower's shapes, x{c.Layers} blocks (ms per forward; forward median {medianMs:F1}):");
            foreach (var part in parts)
            {
                double rate = part.Gflop / (part.MsPerForward / 1000);
                Console.WriteLine($"  {part.Name,-52}{part.MsPerForward,9:F1} ms" +
                    (part.Gflop > 0 ? $"  {rate:F1} GFLOP/s, {rate / gemmPeak:P1} of the matmul peak" : ""));
            }
            Console.WriteLine($"  {"sum",-52}{parts.Sum(p => p.MsPerForward),9:F1} ms");
        }
        if (s.Json)
        {
            var result = new Dictionary<string, object>
            {
                ["median_ms"] = Math.Round(medianMs, 3),
                ["images_per_s"] = Math.Round(imagesPerSecond, 4),
                ["gflops"] = Math.Round(gflops, 2),
                ["gemm_gflops"] = Math.Round(gemmPeak, 2),
                ["gemm_fraction"] = Math.Round(gflops / gemmPeak, 4),
                ["min_ms"] = Math.Round(minMs, 3),
                ["best_fraction"] = Math.Round(bestGflops / gemmPeak, 4),
                ["gemm_median_gflops"] = Math.Round(gemmMedian, 2),
                ["gflop_per_forward"] = Math.Round(flops / 1e9, 3),
                ["runs_ms"] = times.Select(x => Math.Round(x, 2)).ToArray(),
                ["clock"] = timer.Name,
                ["batch"] = s.Batch,
                ["threads"] = torch.get_num_threads(),
                ["dtype"] = s.DType.ToString(),
                ["config"] = new { c.InputResolution, c.PatchSize, c.Width, c.Layers, c.Heads, c.OutputDim },
            };
            if (parts != null) result["profile_ms"] = parts.ToDictionary(p => p.Name, p => Math.Round(p.MsPerForward, 2));
            Console.WriteLine(JsonSerializer.Serialize(result));
        }
        return 0;
    }

    /// <summary>Appends the GFLOP/s (2n³ FLOPs each) of <paramref name="reps"/> square fp32 matmuls.</summary>
    static void TimeGemm(Tensor a, Tensor b, List<double> gflops, int reps, BenchClock timer)
    {
        double n = a.shape[0];
        for (int i = 0; i < reps; i++)
            gflops.Add(2 * n * n * n / (timer.Milliseconds(() => a.mm(b).Dispose()) / 1000) / 1e9);
    }

    /// <summary>Wall clock, or process CPU time divided by the torch thread count.</summary>
    sealed class BenchClock(bool cpu)
    {
        readonly Process self = Process.GetCurrentProcess();

        public string Name => cpu ? "cpu" : "wall";

        public double Milliseconds(Action work)
        {
            if (!cpu)
            {
                var clock = Stopwatch.StartNew();
                work();
                return clock.Elapsed.TotalMilliseconds;
            }
            self.Refresh();
            var before = self.TotalProcessorTime;
            work();
            self.Refresh();
            return (self.TotalProcessorTime - before).TotalMilliseconds / torch.get_num_threads();
        }
    }

    static double Median(List<double> xs)
    {
        var sorted = xs.OrderBy(x => x).ToList();
        int m = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
