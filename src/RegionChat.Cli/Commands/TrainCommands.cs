using System.CommandLine;
using System.Text.Json;
using RegionChat.Llm.Gguf;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Training.Pipeline;
using RegionChat.Data.Shapes;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat train …`: the shapes recipe that builds models/shapes-tiny. `train shapes --stage S` runs stages in
/// order (each resumes from its checkpoint in --out), `train llm|projector|instruct|chat|export` run one stage with the
/// recipe's settings, `train clip|alpha-clip` run stages 1–2 with every setting exposed (TrainClipCommands), and
/// `train eval` measures greedy answers of a model folder on test scenes.
/// </summary>
internal static class TrainCommands
{
    public static Command Create()
    {
        var command = new Command("train", "Train the shapes model (CLIP, Alpha-CLIP, LLM, projector, instruction tuning, chat tuning, export).");
        command.Subcommands.Add(StageCommand("shapes", "Run the shapes recipe's stages in order in --out (resumable), then export the model folder.", null));
        command.Subcommands.Add(StageCommand("llm", "Stage 3: pre-train the tiny llama on the shapes text (in --out/llm).", ShapesStage.Llm));
        command.Subcommands.Add(StageCommand("projector", "Stage 4: align the projector, vision tower and LLM frozen (in --out/projector).",
            ShapesStage.Projector));
        command.Subcommands.Add(StageCommand("instruct",
            "Stage 5: instruction-tune projector + LLM on all region and image QA, then chat-tune (stage 6) and export.", ShapesStage.Instruct));
        command.Subcommands.Add(StageCommand("chat",
            "Stage 6: chat-tune a finished instruct stage on conversations of 1-5 turns (context 1024), then export.", ShapesStage.Chat));
        command.Subcommands.Add(StageCommand("export", "Stage 7: write the model folder (--out/model) from a finished chat stage.", ShapesStage.Export));
        command.Subcommands.Add(TrainClipCommands.CreateClipStage());
        command.Subcommands.Add(TrainClipCommands.CreateAlphaStage());
        command.Subcommands.Add(Eval());
        return command;
    }

    static Command StageCommand(string name, string description, ShapesStage? fixedStage)
    {
        var output = new Option<string>("--out") { Description = "Run folder (one subfolder per stage; model/ is the export).", Required = true };
        var stage = new Option<string>("--stage")
        {
            Description = "all|clip|alpha|llm|projector|instruct|chat|export (instruct also chat-tunes and exports, chat also exports).",
            DefaultValueFactory = _ => "all",
        };
        var seed = new Option<long>("--seed") { Description = "Seed of weights and training data.", DefaultValueFactory = _ => 0 };
        var scale = new Option<double>("--steps-scale") { Description = "Multiply every stage's step count (and warm-up).", DefaultValueFactory = _ => 1.0 };
        var threads = new Option<int>("--threads")
        {
            Description = "Torch CPU threads. On a loaded machine set OMP_WAIT_POLICY=PASSIVE (measured 6x faster steps at 2 threads).",
            DefaultValueFactory = _ => 2,
        };
        var smoke = new Option<bool>("--smoke") { Description = "CI-sized run: tiny models, 8 fixed scenes, a few dozen steps." };
        var vision = new Option<string?>("--vision") { Description = "Trained tower folder (vision.safetensors + vision.json, optional text.*) " +
            "instead of stages 1-2." };
        var llmType = new Option<string>("--llm-type") { Description = "Exported llm.gguf weights: f32 or f16.", DefaultValueFactory = _ => "f32" };
        var timeLimit = new Option<double?>("--time-limit") { Description = "Stop (checkpointed, resumable) after this many minutes." };
        var relationShare = new Option<double?>("--relation-share") { Description = "Stage 6: share of later turns asking a relation question " +
            "(recipe: 0.35)." };
        var leftOfShare = new Option<double?>("--left-of-share") { Description = "Stage 6: share of relation questions asking \"left of\" " +
            "(recipe: 0.35)." };
        var previousShare = new Option<double?>("--previous-share") { Description = "Stage 6: share of follow-ups (after two regions) asking " +
            "the colour or shape of the previous region, a training-only question (recipe: 0.6)." };
        var matchShare = new Option<double?>("--match-share") { Description = "Stage 6: share of new-region turns showing a region that " +
            "shares the last one's colour or shape, when the image has one (recipe: 0.5)." };
        var positionShare = new Option<double?>("--position-share") { Description = "Stage 6: share of follow-ups asking the training-only " +
            "\"is it to the left?\" (and, above 0, \"is the previous one to the left?\" among the previous-region ones) (recipe: 0.9)." };
        var positionMap = new Option<bool?>("--region-position-map") { Description = "Stage 6: give the projector a zero-initialised " +
            "region-position map (the region's centre added to every visual token) when it has none (recipe: on; " +
            "--region-position-map false: none)." };
        var positionLr = new Option<double?>("--region-position-lr") { Description = "Stage 6: the region-position map's learning rate " +
            "as a multiple of the projector's (default 10)." };
        var budgetShare = new Option<double?>("--visual-token-budget-share") { Description = "Stage 6: share of steps whose images keep only " +
            "--visual-token-budget visual tokens, chosen as the server's budget chooses them (recipe: 0.3)." };
        var budget = new Option<int?>("--visual-token-budget") { Description = "Stage 6: the visual tokens such a step keeps (recipe: 17)." };
        var command = new Command(name, description)
        {
            output, seed, scale, threads, smoke, vision, llmType, timeLimit, relationShare, leftOfShare, previousShare, matchShare,
            positionShare, positionMap, positionLr, budgetShare, budget,
        };
        if (fixedStage is null) command.Options.Add(stage);
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            try
            {
                var selected = fixedStage ?? ParseStage(parse.GetValue(stage)!);
                int t = parse.GetValue(threads);
                if (t is < 1 or > 1024) throw new ArgumentException($"--threads must be in 1..1024, got {t}");
                var recipe = parse.GetValue(smoke)
                    ? ShapesRecipe.Smoke(parse.GetValue(seed), parse.GetValue(scale), t)
                    : ShapesRecipe.Full(parse.GetValue(seed), parse.GetValue(scale), t);
                recipe = recipe with { VisionFolder = parse.GetValue(vision), ExportLlmType = ParseLlmType(parse.GetValue(llmType)!) };
                if (parse.GetValue(relationShare) is double rs) recipe = recipe with { Chat = recipe.Chat with { RelationShare = rs } };
                if (parse.GetValue(leftOfShare) is double ls) recipe = recipe with { Chat = recipe.Chat with { LeftOfShare = ls } };
                if (parse.GetValue(previousShare) is double ps) recipe = recipe with { Chat = recipe.Chat with { PreviousShare = ps } };
                if (parse.GetValue(matchShare) is double ms) recipe = recipe with { Chat = recipe.Chat with { MatchShare = ms } };
                if (parse.GetValue(positionShare) is double pos) recipe = recipe with { Chat = recipe.Chat with { PositionShare = pos } };
                if (parse.GetValue(positionMap) is bool map) recipe = recipe with { Chat = recipe.Chat with { RegionPositionMap = map } };
                if (parse.GetValue(positionLr) is double plr)
                    recipe = recipe with { Chat = recipe.Chat with { RegionPositionLearningRateMultiplier = plr } };
                if (parse.GetValue(budgetShare) is double bs) recipe = recipe with { Chat = recipe.Chat with { VisualTokenBudgetShare = bs } };
                if (parse.GetValue(budget) is int k) recipe = recipe with { Chat = recipe.Chat with { VisualTokenBudget = k } };
                recipe.Chat.Validate();
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                if (parse.GetValue(timeLimit) is double minutes)
                {
                    if (!(minutes > 0)) throw new ArgumentException($"--time-limit must be a positive number of minutes, got {minutes}");
                    limit.CancelAfter(TimeSpan.FromMinutes(minutes));
                }
                var bar = new ConsoleProgressBar(error, !Console.IsErrorRedirected);
                var pipeline = new ShapesTrainingPipeline(parse.GetValue(output)!, recipe);
                pipeline.Message += bar.Message;
                pipeline.Progress += bar.Report;
                var results = await Task.Run(() => pipeline.Run(selected, limit.Token), CancellationToken.None);
                var stdout = parse.InvocationConfiguration.Output;
                foreach (var r in results)
                    stdout.WriteLine($"{r.Stage.ToString().ToLowerInvariant()}: step {r.Step}/{r.Steps}" +
                                     (r.Completed ? " (complete)" : " (stopped; run again to resume)") +
                                     (r.ResumedFrom is int from ? $", resumed from {from}" : "") +
                                     (r.LastLoss is double l ? $", last loss {l:F4}" : "") +
                                     (r.Elapsed > TimeSpan.Zero ? $", {r.Elapsed.TotalSeconds:F0} s" : "") +
                                     (r.Summary != null ? $", {r.Summary}" : "") + $" [{r.Folder}]");
                return results.Count > 0 && results.All(r => r.Completed) ? 0 : limit.IsCancellationRequested ? 3 : 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException
                                          or UnauthorizedAccessException or GgufFormatException)
            {
                string message = e.Message;
                if (e is ArgumentException { ParamName: { } p }) message = message.Replace($" (Parameter '{p}')", "");
                error.WriteLine($"error: {message.Split('\n')[0].Trim()}");
                return 1;
            }
        });
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Model folder (vision.*, projector.safetensors, llm.gguf).", Required = true };
        var scenes = new Option<int>("--scenes") { Description = "Test scenes to ask about (1..100000).", DefaultValueFactory = _ => 200 };
        var first = new Option<long>("--first-seed") { Description = "First scene seed (test split: ≥ 1000000000).",
            DefaultValueFactory = _ => ShapesSeeds.TestStart };
        var modes = new Option<string>("--modes") { Description = "Alpha modes, comma-separated: whole,mask,box.",
            DefaultValueFactory = _ => "whole,mask,box" };
        var llamaCpp = new Option<bool>("--llama-cpp") { Description = "Also answer through llama.cpp (the inference engine) and compare with the twin." };
        var threads = new Option<int>("--threads") { Description = "CPU threads (torch and llama.cpp).", DefaultValueFactory = _ => 2 };
        var output = new Option<string?>("--out") { Description = "Write the JSON report here." };
        var command = new Command("eval", "Greedy-answer accuracy of a shapes model on test scenes by alpha mode and question.")
            { model, scenes, first, modes, llamaCpp, threads, output };
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            try
            {
                int n = parse.GetValue(scenes);
                if (n is < 1 or > 100_000) throw new ArgumentException($"--scenes must be in 1..100000, got {n}");
                long firstSeed = parse.GetValue(first);
                ShapesSeeds.Require(ShapesSeeds.SplitOf(firstSeed), firstSeed, n);
                var alphaModes = parse.GetValue(modes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(m => Enum.TryParse<RegionAlphaMode>(m, ignoreCase: true, out var v) ? v
                        : throw new ArgumentException($"unknown alpha mode '{m}' (whole, mask, box)"))
                    .Distinct().ToList();
                if (alphaModes.Count == 0) throw new ArgumentException("--modes names no alpha mode");
                int t = parse.GetValue(threads);
                if (t is < 1 or > 1024) throw new ArgumentException($"--threads must be in 1..1024, got {t}");
                TorchSharp.torch.set_num_threads(t);
                string folder = parse.GetValue(model)!;
                using var m = ShapesLlavaModel.Load(folder);
                var samples = ShapesLlavaEvaluator.Samples(firstSeed, n, alphaModes);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var twinAnswers = m.GreedyAnswers(samples);
                double twinSeconds = clock.Elapsed.TotalSeconds;
                var twin = ShapesLlavaEvaluator.Score(firstSeed, n, samples, twinAnswers);
                var report = new System.Text.Json.Nodes.JsonObject { ["model"] = Path.GetFullPath(folder), ["twin"] = twin.ToJson(),
                    ["twin_seconds"] = Math.Round(twinSeconds, 1) };
                var stdout = parse.InvocationConfiguration.Output;
                stdout.WriteLine($"twin: {Summary(twin)} ({samples.Count} questions, {twinSeconds:F1} s)");
                if (parse.GetValue(llamaCpp))
                {
                    clock.Restart();
                    using var answerer = new LlamaCppAnswerer(Path.Combine(folder, ShapesModelFiles.Llm), t);
                    var cppAnswers = answerer.Answer(m, samples);
                    double cppSeconds = clock.Elapsed.TotalSeconds;
                    var cpp = ShapesLlavaEvaluator.Score(firstSeed, n, samples, cppAnswers);
                    int agree = Enumerable.Range(0, samples.Count).Count(i => cppAnswers[i].Trim() == twinAnswers[i].Trim());
                    report["llama_cpp"] = cpp.ToJson();
                    report["llama_cpp_seconds"] = Math.Round(cppSeconds, 1);
                    report["twin_llama_cpp_agreement"] = Math.Round((double)agree / samples.Count, 4);
                    stdout.WriteLine($"llama.cpp: {Summary(cpp)} ({cppSeconds:F1} s); answers equal to the twin's: {agree}/{samples.Count}");
                }
                if (parse.GetValue(output) is string path)
                {
                    File.WriteAllText(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                    stdout.WriteLine($"wrote {path}");
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException
                                          or UnauthorizedAccessException or GgufFormatException)
            {
                string message = e.Message;
                if (e is ArgumentException { ParamName: { } p }) message = message.Replace($" (Parameter '{p}')", "");
                error.WriteLine($"error: {message.Split('\n')[0].Trim()}");
                return 1;
            }
        });
        return command;
    }

    static string Summary(ShapesEvalReport r) =>
        $"accuracy {r.Accuracy:P1} (" + string.Join(", ", Enum.GetValues<RegionAlphaMode>().Where(m => !double.IsNaN(r.AccuracyOf(m)))
            .Select(m => $"{m.ToString().ToLowerInvariant()} {r.AccuracyOf(m):P1}")) + ")";

    static ShapesStage ParseStage(string value) =>
        Enum.TryParse<ShapesStage>(value, ignoreCase: true, out var s) && Enum.IsDefined(s) && !int.TryParse(value, out _)
            ? s
            : throw new ArgumentException($"--stage must be all, clip, alpha, llm, projector, instruct, chat or export; got '{value}'");

    static GgmlType ParseLlmType(string value) => value.ToLowerInvariant() switch
    {
        "f32" => GgmlType.F32,
        "f16" => GgmlType.F16,
        _ => throw new ArgumentException($"--llm-type must be f32 or f16, got '{value}'"),
    };
}
