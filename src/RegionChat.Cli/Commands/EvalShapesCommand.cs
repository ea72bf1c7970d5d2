using System.CommandLine;
using System.Globalization;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Training.Evaluation;
using RegionChat.Data.Shapes;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat eval shapes --model DIR [--scenes N] [--seed S] [--json] [--threads T] [--parallel P] [--answers FILE]
/// [--visual-token-budget K]`: a model folder
/// on shapes test scenes through the inference path (the GGUF in llama.cpp, greedy): region-caption exact match and
/// CIDEr-D with the region as mask, box and whole image, QA accuracy per question type, and zero-shot region
/// classification (plain CLIP and Alpha-CLIP). The table goes to stdout; with --json the last stdout line is one JSON
/// object of fractions. Progress goes to stderr.
/// </summary>
internal static class EvalShapesCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder (holding model.json).", Required = true };
        var scenes = new Option<int>("--scenes") { Description = "Scenes to evaluate (1..100000).", DefaultValueFactory = _ => 500 };
        var seed = new Option<long>("--seed")
        {
            Description = $"First scene seed (default {ShapesSeeds.TestStart}, the first test seed; seeds from there up are never trained on).",
            DefaultValueFactory = _ => ShapesSeeds.TestStart,
        };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object (fractions in [0,1]) as the last line." };
        var threads = new Option<int>("--threads") { Description = "CPU threads for llama.cpp and TorchSharp.", DefaultValueFactory = _ => 2 };
        var parallel = new Option<int>("--parallel") { Description = "Generations decoded together by llama.cpp.", DefaultValueFactory = _ => 32 };
        var answers = new Option<FileInfo?>("--answers") { Description = "Also write every question and greedy answer as JSONL to this file." };
        var budget = new Option<int>("--visual-token-budget")
        {
            Description = "Visual tokens kept per image (the region's patches first, by CLS attention; 0 = all, the default).",
        };
        var command = new Command("shapes",
            "Evaluate a model folder on shapes test scenes through llama.cpp: caption exact match and CIDEr-D (mask, box, whole image), " +
            "QA accuracy, zero-shot region classification (the Alpha-CLIP paper's Tables 2 and 3 in miniature).")
            { model, scenes, seed, json, threads, parallel, answers, budget };
        command.SetAction(async (parse, cancellation) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var options = new ShapesEvalOptions
                {
                    Scenes = parse.GetValue(scenes),
                    FirstSeed = parse.GetValue(seed),
                    Threads = parse.GetValue(threads),
                    Parallel = parse.GetValue(parallel),
                    VisualTokenBudget = parse.GetValue(budget),
                };
                options.Validate();
                if (ShapesSeeds.SplitOf(options.FirstSeed) != ShapesSplit.Test
                    || ShapesSeeds.SplitOf(options.FirstSeed + options.Scenes - 1) != ShapesSplit.Test)
                    stderr.WriteLine($"warning: seeds {options.FirstSeed}.. are not all test seeds (≥ {ShapesSeeds.TestStart}): the model may " +
                        "have trained on them");
                var printer = new ProgressPrinter(stderr);
                var result = await ShapesModelEvaluator.EvaluateAsync(parse.GetValue(model)!.FullName, options, printer.Report, cancellation);
                if (parse.GetValue(answers) is { } file)
                {
                    using var writer = new StreamWriter(file.FullName);
                    foreach (var record in result.AnswerRecords()) writer.WriteLine(record.ToJsonString());
                    stderr.WriteLine($"eval shapes: wrote {result.Asks.Count} answers to {file.FullName}");
                }
                stdout.WriteLine(result.Table());
                if (parse.GetValue(json)) stdout.WriteLine(result.ToJson().ToJsonString());
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or InvalidOperationException or IOException
                                          or ModelManifestException or LlmEngineException or UnauthorizedAccessException)
            {
                string message = e.Message;
                if (e is ArgumentException { ParamName: { } p }) message = message.Replace($" (Parameter '{p}')", "");
                stderr.WriteLine($"error: {message.Split('\n')[0].Trim()}");
                return e is ArgumentException ? 2 : 1;
            }
        });
        return command;
    }

    /// <summary>About ten plain progress lines per phase (called from many threads).</summary>
    sealed class ProgressPrinter(TextWriter error)
    {
        readonly Lock gate = new();
        string phase = "";
        int nextTenth;

        public void Report(ShapesEvalProgress p)
        {
            lock (gate)
            {
                if (p.Phase != phase) (phase, nextTenth) = (p.Phase, 0);
                int tenth = (int)(10L * p.Done / Math.Max(1, p.Total));
                if (tenth < nextTenth && p.Done != 0) return;
                nextTenth = tenth + 1;
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"eval shapes: {p.Phase} {p.Done}/{p.Total} ({p.Elapsed.TotalSeconds:F0} s)"));
                error.Flush();
            }
        }
    }
}
