using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LLama.Native;
using RegionChat.Llm.Twin;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat llm compare`: runs the TorchSharp twin and llama.cpp on the same GGUF and random inputs and prints how
/// far their logits are apart, so a user can check a converted or trained model.
/// </summary>
internal static class LlmCompareCommand
{
    public static Command Create()
    {
        var gguf = new Option<FileInfo>("--gguf") { Description = "The llama GGUF to check.", Required = true };
        var tokens = new Option<int>("--tokens") { Description = "Random token ids to feed (at least 2).", DefaultValueFactory = _ => 16 };
        var embeddings = new Option<int>("--embeddings") { Description = "Random embedding vectors in the mixed input.", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random input.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "llama.cpp threads.", DefaultValueFactory = _ => 2 };
        var failAbove = new Option<double?>("--fail-above") { Description = "Exit with code 3 when a relative difference exceeds this (e.g. 1e-4)." };
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding the figures." };

        var command = new Command("compare", "Compare the TorchSharp twin's logits with llama.cpp's on a GGUF (token input and token + embedding input).");
        foreach (var o in new Option[] { gguf, tokens, embeddings, seed, threads, failAbove, json }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            var file = parseResult.GetValue(gguf)!;
            LlamaTwinComparisonResult result;
            try
            {
                // llama.cpp's loader chatter would bury the figures; keep its errors.
                NativeLogConfig.llama_log_set((level, message) =>
                {
                    if (level == LLamaLogLevel.Error) error.Write(message);
                });
                result = LlamaTwinComparison.Run(file.FullName, parseResult.GetValue(tokens), parseResult.GetValue(embeddings),
                    parseResult.GetValue(seed), parseResult.GetValue(threads));
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
            {
                error.WriteLine($"error: {e.Message}");
                return e is ArgumentException ? 2 : 1;
            }

            var s = result.Shape;
            output.WriteLine($"model: {file.Name}: {s.Layers} layers, width {s.EmbeddingLength}, {s.Heads} heads / {s.KvHeads} KV, " +
                             $"ff {s.FeedForward}, vocab {s.VocabSize}, {(s.TiedOutput ? "tied" : "separate")} output head");
            output.WriteLine("llama.cpp runs with an f32 KV cache and no flash attention; the twin in f32 on the dequantised weights.");
            Report(output, $"tokens ({result.Tokens})", result.TokenInput);
            Report(output, $"tokens + embeddings ({result.Tokens} + {result.Embeddings})", result.MixedInput);
            if (parseResult.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    gguf = file.FullName,
                    tokens = result.Tokens,
                    embeddings = result.Embeddings,
                    seed = result.Seed,
                    token_max_abs = result.TokenInput.MaxAbs,
                    token_max_rel = result.TokenInput.MaxRel,
                    token_max_logit = result.TokenInput.MaxAbsLogit,
                    mixed_max_abs = result.MixedInput.MaxAbs,
                    mixed_max_rel = result.MixedInput.MaxRel,
                    mixed_max_logit = result.MixedInput.MaxAbsLogit,
                }));
            }
            double? limit = parseResult.GetValue(failAbove);
            if (limit is double l && Math.Max(result.TokenInput.MaxRel, result.MixedInput.MaxRel) > l)
            {
                error.WriteLine($"error: relative logit difference above {l.ToString(CultureInfo.InvariantCulture)}");
                return 3;
            }
            return 0;
        });
        return command;
    }

    static void Report(TextWriter output, string what, LogitDifference d) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what,-32} max |diff| {d.MaxAbs:E2}   relative {d.MaxRel:E2}   (max |logit| {d.MaxAbsLogit:G4}, {d.Positions} positions)"));
}
