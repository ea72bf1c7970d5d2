using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench server --model DIR | --synth [--concurrency N] [--requests K] [--max-tokens T] [--json]`: gRPC
/// serving overhead (server in-process on loopback vs the engine called directly, same model, same prompts, same run)
/// and the follow-up turn's time to first token against the first turn's. Targets: gRPC/in-process decode ≥ 0.95,
/// follow-up TTFT ≤ 0.2 × first-turn TTFT.
/// </summary>
internal static class BenchServerCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "Model folder (holding model.json) to serve and run." };
        var synth = new Option<bool>("--synth") { Description = "Benchmark a random-weight model written to a temp folder (vision 224 px / patch 14 / width " +
            "256, LLM 512 wide x 8 layers, f16)." };
        var synthDir = new Option<DirectoryInfo?>("--synth-dir") { Description = "With --synth: write the model to this folder and keep it (reused when it " +
            "already holds one) instead of a temp folder." };
        var concurrency = Int("--concurrency", "Requests in flight at once on each path.", 1);
        var requests = Int("--requests", "Requests per path (interleaved with the other path in chunks of --concurrency).", 16);
        var maxTokens = Int("--max-tokens", "Tokens generated per request (greedy; fewer when the model ends its answer).", 32);
        var threads = Int("--threads", "CPU threads for llama.cpp and TorchSharp (both paths).", Environment.ProcessorCount);
        var followUps = Int("--follow-ups", "Sessions whose first turn and follow-up are timed, per path.", 3);
        var context = Int("--context", "LLM context size (KV cells shared by the sequences).", 4096);
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio." };
        var budget = Int("--visual-token-budget", "Visual tokens kept per image on both paths (the model's VisualTokenBudget); 0 = all.", 0);

        var command = new Command("server", "Time gRPC serving against the in-process engine (TTFT, decode tok/s) and follow-up turns against first turns.");
        foreach (var o in new Option[] { model, synth, synthDir, concurrency, requests, maxTokens, threads, followUps, context, json, budget })
            command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            string? temp = null;
            try
            {
                string dir = BenchModelSynth.Folder(parse.GetValue(model), parse.GetValue(synth), parse.GetValue(synthDir), new BenchModelSynth.Shape(),
                    "synth-bench", output, out temp);
                var options = new ServerBenchmarkOptions
                {
                    ModelDir = dir,
                    Concurrency = parse.GetValue(concurrency),
                    Requests = parse.GetValue(requests),
                    MaxTokens = parse.GetValue(maxTokens),
                    Threads = parse.GetValue(threads),
                    FollowUps = parse.GetValue(followUps),
                    ContextSize = parse.GetValue(context),
                    VisualTokenBudget = parse.GetValue(budget),
                };
                options.Validate();
                var result = await ServerBenchmark.RunAsync(options, output.WriteLine, ct).ConfigureAwait(false);
                Print(result, output, parse.GetValue(synth));
                if (parse.GetValue(json)) output.WriteLine(Json(result, parse.GetValue(synth)));
                return 0;
            }
            catch (Exception e) when (CliErrors.IsExpected(e))
            {
                return CliErrors.Report(e, error);
            }
            finally
            {
                if (temp != null) try { Directory.Delete(temp, true); } catch (IOException) { }
            }
        });
        return command;
    }

    static void Print(ServerBenchmarkResult r, TextWriter output, bool synth)
    {
        var c = CultureInfo.InvariantCulture;
        var o = r.Options;
        output.WriteLine(string.Create(c,
            $"model {r.ModelId}{(synth ? " (synthetic, random weights)" : "")}: {r.VisualTokens} visual tokens, LLM {r.LlmWidth} x {r.LlmLayers}; " +
            $"{o.Requests} requests per path at concurrency {o.Concurrency}, {o.MaxTokens} max tokens, {o.Threads} threads; load " +
            $"avg {r.LoadBefore:F2} → {r.LoadAfter:F2}"));
        output.WriteLine(string.Create(c, $"{"",-34}{"gRPC",12}{"in-process",12}{"gRPC/in-proc",14}   (ratios: median over paired requests)"));
        Row("ttft (ms, median)", r.Grpc.TtftMedianMs, r.InProcess.TtftMedianMs, r.TtftRatio);
        Row("request total (ms, median)", r.Grpc.TotalMedianMs, r.InProcess.TotalMedianMs, r.TotalRatio);
        Row("decode tok/s at caller (median)", r.Grpc.DecodeMedianTokensPerSecond, r.InProcess.DecodeMedianTokensPerSecond, r.DecodeRatio);
        Row("decode tok/s in engine (median)", r.Grpc.EngineDecodeMedianTokensPerSecond, r.InProcess.EngineDecodeMedianTokensPerSecond, r.EngineDecodeRatio);
        Row("decode tok/s at caller (pooled)", r.Grpc.DecodeTokensPerSecond, r.InProcess.DecodeTokensPerSecond, r.PooledDecodeRatio);
        Row("aggregate tok/s", r.Grpc.AggregateTokensPerSecond, r.InProcess.AggregateTokensPerSecond, r.AggregateRatio);
        output.WriteLine(string.Create(c, $"generated tokens: gRPC {r.Grpc.CompletionTokens}, in-process {r.InProcess.CompletionTokens}; identical " +
            $"answers {r.IdenticalAnswers}/{r.ComparedAnswers}"));
        output.WriteLine(string.Create(c,
            $"follow-up ttft: gRPC {r.FollowUpTtftMs:F1} ms vs first turn {r.FirstTurnTtftMs:F1} ms = {r.FollowUpTtftRatio:F3}x; " +
            $"in-process {r.InProcessFollowUpTtftMs:F1} vs {r.InProcessFirstTurnTtftMs:F1} ms = {r.InProcessFollowUpTtftRatio:F3}x"));
        output.WriteLine(string.Create(c,
            $"targets: decode ratio {r.DecodeRatio:F3} (>= {ServerBenchmarkResult.DecodeTarget}: {(r.DecodeTargetMet ? "met" : "NOT met")}), " +
            $"follow-up ttft ratio {r.FollowUpTtftRatio:F3} (<= {ServerBenchmarkResult.FollowUpTarget}: {(r.FollowUpTargetMet ? "met" : "NOT met")})"));

        void Row(string name, double grpc, double local, double ratio) =>
            output.WriteLine(string.Create(c, $"{name,-34}{grpc,12:F2}{local,12:F2}{ratio,14:F3}"));
    }

    static string Json(ServerBenchmarkResult r, bool synth) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = r.ModelId,
        ["synthetic"] = synth,
        ["visual_tokens"] = r.VisualTokens,
        ["visual_token_budget"] = r.Options.VisualTokenBudget,
        ["llm_width"] = r.LlmWidth,
        ["llm_layers"] = r.LlmLayers,
        ["threads"] = r.Options.Threads,
        ["concurrency"] = r.Options.Concurrency,
        ["requests"] = r.Options.Requests,
        ["max_tokens"] = r.Options.MaxTokens,
        ["follow_up_sessions"] = r.Options.FollowUps,
        ["grpc_ttft_ms"] = Round(r.Grpc.TtftMedianMs),
        ["inprocess_ttft_ms"] = Round(r.InProcess.TtftMedianMs),
        ["ttft_ratio"] = Round(r.TtftRatio),
        ["grpc_total_ms"] = Round(r.Grpc.TotalMedianMs),
        ["inprocess_total_ms"] = Round(r.InProcess.TotalMedianMs),
        ["total_ratio"] = Round(r.TotalRatio),
        ["grpc_decode_tps"] = Round(r.Grpc.DecodeMedianTokensPerSecond),
        ["inprocess_decode_tps"] = Round(r.InProcess.DecodeMedianTokensPerSecond),
        ["decode_ratio"] = Round(r.DecodeRatio),
        ["grpc_aggregate_tps"] = Round(r.Grpc.AggregateTokensPerSecond),
        ["inprocess_aggregate_tps"] = Round(r.InProcess.AggregateTokensPerSecond),
        ["aggregate_ratio"] = Round(r.AggregateRatio),
        ["grpc_engine_decode_tps"] = Round(r.Grpc.EngineDecodeMedianTokensPerSecond),
        ["inprocess_engine_decode_tps"] = Round(r.InProcess.EngineDecodeMedianTokensPerSecond),
        ["engine_decode_ratio"] = Round(r.EngineDecodeRatio),
        ["grpc_pooled_decode_tps"] = Round(r.Grpc.DecodeTokensPerSecond),
        ["inprocess_pooled_decode_tps"] = Round(r.InProcess.DecodeTokensPerSecond),
        ["pooled_decode_ratio"] = Round(r.PooledDecodeRatio),
        ["grpc_completion_tokens"] = r.Grpc.CompletionTokens,
        ["inprocess_completion_tokens"] = r.InProcess.CompletionTokens,
        ["identical_answers"] = r.IdenticalAnswers,
        ["compared_answers"] = r.ComparedAnswers,
        ["first_turn_ttft_ms"] = Round(r.FirstTurnTtftMs),
        ["followup_ttft_ms"] = Round(r.FollowUpTtftMs),
        ["followup_ttft_ratio"] = Round(r.FollowUpTtftRatio),
        ["followup_cached_tokens"] = r.GrpcFollowUps.Select(s => s.CachedTokens).DefaultIfEmpty().Min(),
        ["followup_prompt_tokens"] = r.GrpcFollowUps.Select(s => s.PromptTokens).DefaultIfEmpty().Max(),
        // The timed turns' prompts (visual tokens included) on each path: what the visual-token budget shrinks.
        ["grpc_prompt_tokens"] = r.Grpc.Samples.Select(s => s.PromptTokens).DefaultIfEmpty().Max(),
        ["inprocess_prompt_tokens"] = r.InProcess.Samples.Select(s => s.PromptTokens).DefaultIfEmpty().Max(),
        ["inprocess_first_turn_ttft_ms"] = Round(r.InProcessFirstTurnTtftMs),
        ["inprocess_followup_ttft_ms"] = Round(r.InProcessFollowUpTtftMs),
        ["inprocess_followup_ttft_ratio"] = Round(r.InProcessFollowUpTtftRatio),
        ["decode_target_met"] = r.DecodeTargetMet,
        ["followup_target_met"] = r.FollowUpTargetMet,
        ["setup_ms"] = Round(r.SetupMs),
        ["load_avg_before"] = double.IsFinite(r.LoadBefore) ? r.LoadBefore : null,
        ["load_avg_after"] = double.IsFinite(r.LoadAfter) ? r.LoadAfter : null,
    });

    static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;
}
