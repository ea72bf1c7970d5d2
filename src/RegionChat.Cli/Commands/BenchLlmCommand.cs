using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Llm.Engine;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat bench llm`: prefill and decode throughput of the LLM engine, next to a bare LLamaSharp loop doing the
/// same work in the same run (engine/bare ratios), and the gain of batching several sequences' decode steps.
/// </summary>
internal static class BenchLlmCommand
{
    public static Command Create()
    {
        var gguf = new Option<FileInfo>("--gguf") { Description = "llama GGUF model to run.", Required = true };
        var embeddings = Int("--prompt-embeddings", "Injected rows per sequence in the prefill measurement.", 576);
        var tokens = Int("--tokens", "Tokens generated per sequence in the decode measurements.", 64);
        var threads = Int("--threads", "llama.cpp threads (decode and batch).", 2);
        var sequences = Int("--sequences", "Concurrent sequences for prefill and aggregate decode.", 4);
        var batch = Int("--batch", "Positions per decode call (prefill chunk).", 512);
        var repeat = Int("--repeat", "Runs of each measurement, alternating which side goes first; the best run counts.", 2);
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio." };

        var command = new Command("llm", "Time the LLM engine (prefill of injected embeddings, decode, batched decode) against bare LLamaSharp.");
        foreach (var o in new Option[] { gguf, embeddings, tokens, threads, sequences, batch, repeat, json }) command.Options.Add(o);
        command.SetAction(async (parse, _) =>
        {
            try
            {
                var options = new LlmBenchmarkOptions
                {
                    ModelPath = parse.GetValue(gguf)!.FullName,
                    PromptEmbeddings = parse.GetValue(embeddings),
                    Tokens = parse.GetValue(tokens),
                    Threads = parse.GetValue(threads),
                    Sequences = parse.GetValue(sequences),
                    BatchSize = parse.GetValue(batch),
                    Repeat = parse.GetValue(repeat),
                };
                var r = await LlmBenchmark.RunAsync(options, Console.WriteLine);
                Print(r);
                if (parse.GetValue(json)) Console.WriteLine(Json(r));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or LlmEngineException)
            {
                Console.Error.WriteLine($"error: {e.Message.Split('\n')[0]}");
                return 1;
            }
        });
        return command;
    }

    static void Print(LlmBenchmarkResult r)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"{"",-28}{"engine",12}{"bare",12}{"best/best",13}{"pair median",13}"));
        Row($"prefill tok/s ({r.Options.Sequences}×{r.Options.PromptEmbeddings})", r.Engine.PrefillTokensPerSecond,
            r.Bare.PrefillTokensPerSecond, r.PrefillRatio, r.PairRatios.Prefill);
        Row("decode tok/s (1 seq)", r.Engine.DecodeTokensPerSecond, r.Bare.DecodeTokensPerSecond, r.DecodeRatio, r.PairRatios.Decode);
        Row($"decode tok/s ({r.Options.Sequences} seq, sum)", r.Engine.AggregateDecodeTokensPerSecond, r.Bare.AggregateDecodeTokensPerSecond,
            r.AggregateDecodeRatio, r.PairRatios.AggregateDecode);
        Console.WriteLine(string.Create(c,
            $"batched decode gain ({r.Options.Sequences} seq / 1 seq): engine {r.Engine.AggregateSpeedup:F2}x, bare {r.Bare.AggregateSpeedup:F2}x"));
        Console.WriteLine(string.Create(c,
            $"JSON mask per step ({r.Facts.VocabSize} tokens, mean over a sample answer): {r.JsonMaskMs:F3} ms, {r.JsonMaskShare:F3} of a 1-seq decode step"));
        Console.WriteLine(string.Create(c,
            $"regex mask per step (same): {r.RegexMaskMs:F3} ms, {r.RegexMaskShare:F3} of a 1-seq decode step"));

        void Row(string name, double engine, double bare, double ratio, double pairs) =>
            Console.WriteLine(string.Create(c, $"{name,-28}{engine,12:F2}{bare,12:F2}{ratio,13:F3}{pairs,13:F3}"));
    }

    static string Json(LlmBenchmarkResult r) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model"] = r.Options.ModelPath,
        ["n_embd"] = r.Facts.EmbeddingWidth,
        ["n_vocab"] = r.Facts.VocabSize,
        ["n_layer"] = r.Facts.LayerCount,
        ["context"] = r.Facts.ContextSize,
        ["batch"] = r.Facts.BatchSize,
        ["threads"] = r.Options.Threads,
        ["sequences"] = r.Options.Sequences,
        ["prompt_embeddings"] = r.Options.PromptEmbeddings,
        ["tokens"] = r.Options.Tokens,
        ["repeat"] = r.Options.Repeat,
        ["engine_prefill_tok_s"] = Round(r.Engine.PrefillTokensPerSecond),
        ["engine_decode_tok_s"] = Round(r.Engine.DecodeTokensPerSecond),
        ["engine_aggregate_decode_tok_s"] = Round(r.Engine.AggregateDecodeTokensPerSecond),
        ["bare_prefill_tok_s"] = Round(r.Bare.PrefillTokensPerSecond),
        ["bare_decode_tok_s"] = Round(r.Bare.DecodeTokensPerSecond),
        ["bare_aggregate_decode_tok_s"] = Round(r.Bare.AggregateDecodeTokensPerSecond),
        ["prefill_ratio"] = Round(r.PrefillRatio),
        ["decode_ratio"] = Round(r.DecodeRatio),
        ["aggregate_decode_ratio"] = Round(r.AggregateDecodeRatio),
        ["prefill_pair_ratio_median"] = Round(r.PairRatios.Prefill),
        ["decode_pair_ratio_median"] = Round(r.PairRatios.Decode),
        ["aggregate_decode_pair_ratio_median"] = Round(r.PairRatios.AggregateDecode),
        ["engine_aggregate_speedup"] = Round(r.Engine.AggregateSpeedup),
        ["engine_overhead_fraction"] = Math.Round(r.EngineOverhead, 6),
        ["bare_aggregate_speedup"] = Round(r.Bare.AggregateSpeedup),
        ["json_mask_ms"] = Math.Round(r.JsonMaskMs, 4),
        ["json_mask_share_of_decode_step"] = Round(r.JsonMaskShare),
        ["regex_mask_ms"] = Math.Round(r.RegexMaskMs, 4),
        ["regex_mask_share_of_decode_step"] = Round(r.RegexMaskShare),
    });

    static double Round(double v) => Math.Round(v, 4);
}
