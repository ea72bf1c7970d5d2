using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench batch --model DIR | --server URL --items N [--concurrency 8] [--max-tokens 32] [--route both] [--warmup 1] [--json]`: items/s
/// of one-by-one unary Caption calls against CaptionStream with N items in flight on the same server. Target: the
/// stream route ≥ 1.5× the unary route.
/// </summary>
internal static class BenchBatchCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "Model folder to serve in-process on a free loopback port " +
            "(visual-token cache off)." };
        var server = new Option<string?>("--server") { Description = "Measure this running server instead (the routes then get different scenes, so its " +
            "cache cannot help either)." };
        var apiKey = new Option<string?>("--api-key") { Description = "API key for --server. Default: $REGIONCHAT_API_KEY." };
        var items = Int("--items", "Items per route (in legs of 4 x --concurrency, alternating which route goes first).", 64);
        var concurrency = Int("--concurrency", "Items in flight on the CaptionStream route.", 8);
        var maxTokens = Int("--max-tokens", "Most tokens per caption (greedy; fewer when the model ends its answer).", 32);
        var threads = Int("--threads", "CPU threads of the in-process server (llama.cpp and TorchSharp).", Environment.ProcessorCount);
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and the ratio." };
        var budget = Int("--visual-token-budget", "Visual tokens kept per image (visual_token_budget on every request); 0 = not set.", 0);
        var route = new Option<string>("--route") { Description = "both (the comparison), or unary / stream alone, to profile one route.",
            DefaultValueFactory = _ => "both" };
        route.AcceptOnlyFromAmong("both", "unary", "stream");

        var command = new Command("batch", "Compare items/s of one-by-one unary Caption calls with CaptionStream (N in flight) on one server.");
        var warmup = Int("--warmup", "Untimed items per route before the timed legs: JIT and its tier-up (on shapes-tiny both routes run " +
            "~1.3x faster after ~1000 items than in the first 512).", 1);
        foreach (var o in new Option[] { model, server, apiKey, items, concurrency, maxTokens, threads, json, budget, route, warmup })
            command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                string? dir = parse.GetValue(model)?.FullName;
                if (dir != null && !File.Exists(Path.Combine(dir, ModelManifest.FileName)))
                    throw new ArgumentException($"--model: no {ModelManifest.FileName} in {dir}");
                var options = new BatchBenchmarkOptions
                {
                    ModelDir = dir,
                    Server = parse.GetValue(server),
                    ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("REGIONCHAT_API_KEY"),
                    Items = parse.GetValue(items),
                    Concurrency = parse.GetValue(concurrency),
                    MaxTokens = parse.GetValue(maxTokens),
                    Threads = parse.GetValue(threads),
                    VisualTokenBudget = parse.GetValue(budget),
                    Routes = Enum.Parse<BatchRoutes>(parse.GetValue(route)!, ignoreCase: true),
                    Warmup = parse.GetValue(warmup),
                };
                options.Validate();
                var result = await BatchBenchmark.RunAsync(options, output.WriteLine, ct).ConfigureAwait(false);
                Print(result, output);
                if (parse.GetValue(json)) output.WriteLine(Json(result));
                return 0;
            }
            catch (Exception e) when (CliErrors.IsExpected(e))
            {
                return CliErrors.Report(e, error);
            }
        });
        return command;
    }

    static void Print(BatchBenchmarkResult r, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var o = r.Options;
        output.WriteLine(string.Create(c,
            $"model {r.ModelId} on the {r.ServerLabel} server: {o.Items} items per route after {o.Warmup} untimed, CaptionStream window {o.Concurrency}, " +
            $"{o.MaxTokens} max tokens{(o.ModelDir != null ? $", {o.Threads} threads" : "")}; load avg {r.LoadBefore:F2} → {r.LoadAfter:F2}"));
        output.WriteLine(string.Create(c, $"{"route",-24}{"items",7}{"wall s",10}{"items/s",10}{"tokens",9}{"tok/s",9}{"item ms (median)",19}"));
        bool unary = o.Runs(unary: true), stream = o.Runs(unary: false);
        if (unary) Row("unary, one by one", r.Unary);
        if (stream) Row($"CaptionStream x{o.Concurrency}", r.Stream);
        string identical = r.SameItems ? $"; identical captions on both routes {r.IdenticalCaptions}/{r.Unary.Items}" : "";
        if (r.Compared)
            output.WriteLine(string.Create(c,
                $"CaptionStream / unary: {r.Ratio:F2}x items/s (target >= {BatchBenchmarkResult.Target}: {(r.TargetMet ? "met" : "NOT met")}){identical}"));

        // The process's CPU time covers the server only when it runs in this process (--model).
        if (o.ModelDir != null)
            output.WriteLine("CPU per item (this process: the client and the in-process server): " + string.Join(", ",
                new[] { unary ? Cpu("unary", r.Unary) : null, stream ? Cpu($"CaptionStream x{o.Concurrency}", r.Stream) : null }.OfType<string>()));

        output.WriteLine("where an item's time went on the server (median ms):");
        output.WriteLine(string.Create(c, $"{"route",-24}{"queue",9}{"image",9}{"vision",9}{"prefill",9}{"decode",9}{"first token",13}"));
        if (unary) TimingRow("unary, one by one", r.Unary);
        if (stream) TimingRow($"CaptionStream x{o.Concurrency}", r.Stream);

        void Row(string name, RouteFigures f) => output.WriteLine(string.Create(c,
            $"{name,-24}{f.Items,7}{f.WallMs / 1000,10:F2}{f.ItemsPerSecond,10:F2}{f.CompletionTokens,9}{f.TokensPerSecond,9:F1}{f.MedianItemMs,19:F1}"));
        // The two stage threads' shares show which stage of the pipeline is the busy one.
        string Cpu(string name, RouteFigures f) => string.Create(c, $"{name} {f.CpuMsPerItem:F2} ms ({f.CoresBusy:F2} cores busy") +
            (f.EngineThreadBusy is { } engine && f.VisionThreadBusy is { } vision
                ? string.Create(c, $"; threads busy: LLM engine {engine:F2}, vision batcher {vision:F2}") : "") +
            string.Create(c, $"; JIT {f.JitMs:F0} ms)");
        void TimingRow(string name, RouteFigures f) => output.WriteLine(string.Create(c,
            $"{name,-24}{f.MedianTiming(t => t.QueueMs),9:F1}{f.MedianTiming(t => t.ImageDecodeMs),9:F1}{f.MedianTiming(t => t.VisionEncodeMs),9:F1}" +
            $"{f.MedianTiming(t => t.PrefillMs),9:F1}{f.MedianTiming(t => t.DecodeMs),9:F1}{f.MedianTiming(t => t.TimeToFirstTokenMs),13:F1}"));
    }

    static Dictionary<string, double> Timings(RouteFigures f) => new()
    {
        ["queue"] = Round(f.MedianTiming(t => t.QueueMs)),
        ["image_decode"] = Round(f.MedianTiming(t => t.ImageDecodeMs)),
        ["vision_encode"] = Round(f.MedianTiming(t => t.VisionEncodeMs)),
        ["prefill"] = Round(f.MedianTiming(t => t.PrefillMs)),
        ["decode"] = Round(f.MedianTiming(t => t.DecodeMs)),
        ["time_to_first_token"] = Round(f.MedianTiming(t => t.TimeToFirstTokenMs)),
    };

    /// <summary>Every figure; a route that did not run (--route) has nulls, and so has the comparison; the CPU and JIT figures
    /// are null against --server (this process's CPU is then the client's alone).</summary>
    static string Json(BatchBenchmarkResult r)
    {
        bool unary = r.Options.Runs(unary: true), stream = r.Options.Runs(unary: false), inProcess = r.Options.ModelDir != null;
        return JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["model"] = r.ModelId,
            ["server"] = r.ServerLabel,
            ["items"] = r.Options.Items,
            ["concurrency"] = r.Options.Concurrency,
            ["max_tokens"] = r.Options.MaxTokens,
            ["visual_token_budget"] = r.Options.VisualTokenBudget,
            ["threads"] = r.Options.ModelDir != null ? r.Options.Threads : null,
            ["same_items"] = r.SameItems,
            ["route"] = r.Options.Routes.ToString().ToLowerInvariant(),
            ["warmup"] = r.Options.Warmup,
            ["unary_items_per_second"] = unary ? Round(r.Unary.ItemsPerSecond) : null,
            ["stream_items_per_second"] = stream ? Round(r.Stream.ItemsPerSecond) : null,
            ["ratio"] = r.Compared ? Round(r.Ratio) : null,
            ["target"] = BatchBenchmarkResult.Target,
            ["target_met"] = r.Compared ? r.TargetMet : null,
            ["unary_wall_s"] = unary ? Round(r.Unary.WallMs / 1000) : null,
            ["stream_wall_s"] = stream ? Round(r.Stream.WallMs / 1000) : null,
            ["unary_completion_tokens"] = unary ? r.Unary.CompletionTokens : null,
            ["stream_completion_tokens"] = stream ? r.Stream.CompletionTokens : null,
            ["unary_item_ms_median"] = unary ? Round(r.Unary.MedianItemMs) : null,
            ["stream_item_ms_median"] = stream ? Round(r.Stream.MedianItemMs) : null,
            ["unary_cpu_ms_per_item"] = unary && inProcess ? Round(r.Unary.CpuMsPerItem) : null,
            ["stream_cpu_ms_per_item"] = stream && inProcess ? Round(r.Stream.CpuMsPerItem) : null,
            ["unary_cores_busy"] = unary && inProcess ? Round(r.Unary.CoresBusy) : null,
            ["stream_cores_busy"] = stream && inProcess ? Round(r.Stream.CoresBusy) : null,
            ["unary_jit_ms"] = unary && inProcess ? Round(r.Unary.JitMs) : null,
            ["stream_jit_ms"] = stream && inProcess ? Round(r.Stream.JitMs) : null,
            ["unary_engine_thread_busy"] = unary && inProcess ? Round(r.Unary.EngineThreadBusy) : null,
            ["stream_engine_thread_busy"] = stream && inProcess ? Round(r.Stream.EngineThreadBusy) : null,
            ["unary_vision_thread_busy"] = unary && inProcess ? Round(r.Unary.VisionThreadBusy) : null,
            ["stream_vision_thread_busy"] = stream && inProcess ? Round(r.Stream.VisionThreadBusy) : null,
            ["identical_captions"] = r.SameItems && r.Compared ? r.IdenticalCaptions : null,
            ["unary_timings_ms_median"] = unary ? Timings(r.Unary) : null,
            ["stream_timings_ms_median"] = stream ? Timings(r.Stream) : null,
            ["load_avg_before"] = double.IsFinite(r.LoadBefore) ? r.LoadBefore : null,
            ["load_avg_after"] = double.IsFinite(r.LoadAfter) ? r.LoadAfter : null,
        });
    }

    static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;
    static double? Round(double? v) => v is { } x ? Round(x) : null;
}
