using System.CommandLine;
using System.Diagnostics;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat llm synth`: writes a llama GGUF with seeded random weights (engine tests, benchmarks).</summary>
internal static class LlmSynthCommand
{
    public static Command Create()
    {
        var output = new Option<FileInfo>("--out") { Description = "Output GGUF path.", Required = true };
        var embd = new Option<int>("--embd") { Description = "Embedding length.", Required = true };
        var layers = new Option<int>("--layers") { Description = "Transformer blocks.", Required = true };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", Required = true };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads (default: --heads)." };
        var ff = new Option<int>("--ff") { Description = "Feed-forward length.", Required = true };
        var vocab = new Option<int>("--vocab") { Description = "Vocabulary size (built-in English words padded with fillers).", Required = true };
        var ctx = new Option<int>("--ctx") { Description = "Context length.", DefaultValueFactory = _ => 2048 };
        var type = new Option<string>("--type") { Description = "Weight encoding: f32, f16, bf16 or q8_0 (norms are always f32).",
            DefaultValueFactory = _ => "f16" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0UL };
        var tied = new Option<bool>("--tied") { Description = "No output.weight: the output is tied to the token embeddings." };

        var command = new Command("synth", "Write a llama-architecture GGUF with seeded random weights.");
        foreach (var o in new Option[] { output, embd, layers, heads, kvHeads, ff, vocab, ctx, type, seed, tied }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            try
            {
                var weightType = parseResult.GetValue(type)!.ToLowerInvariant() switch
                {
                    "f32" => GgmlType.F32,
                    "f16" => GgmlType.F16,
                    "bf16" => GgmlType.BF16,
                    "q8_0" => GgmlType.Q8_0,
                    var t => throw new ArgumentException($"--type {t} is not one of f32, f16, bf16, q8_0"),
                };
                int h = parseResult.GetValue(heads);
                var shape = new LlamaShape(parseResult.GetValue(embd), parseResult.GetValue(layers), h,
                    parseResult.GetValue(kvHeads) ?? h, parseResult.GetValue(ff), parseResult.GetValue(vocab),
                    parseResult.GetValue(ctx), TiedOutput: parseResult.GetValue(tied));
                shape.Validate();
                int natural = LlamaVocabulary.BuiltInEnglish().Count;
                if (shape.VocabSize < natural)
                    throw new ArgumentException($"--vocab {shape.VocabSize} is below the {natural} tokens the built-in word list needs");
                var vocabulary = LlamaVocabulary.BuiltInEnglish(shape.VocabSize);
                string path = parseResult.GetValue(output)!.FullName;

                var clock = Stopwatch.StartNew();
                LlamaGgufSynth.Write(path, shape, vocabulary, weightType, parseResult.GetValue(seed));
                clock.Stop();
                long bytes = new FileInfo(path).Length;
                Console.WriteLine($"wrote {path}: {shape.ParameterCount:N0} parameters, {weightType}, {bytes / (double)(1 << 20):F1} MiB " +
                    $"in {clock.Elapsed.TotalSeconds:F1} s");
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
