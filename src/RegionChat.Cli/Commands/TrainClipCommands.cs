using System.CommandLine;
using System.Globalization;
using RegionChat.Inference;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using TorchSharp;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// The contrastive training stages and the zero-shot evaluation of the shapes model, as verb factories for the
/// catalog's `train` / `eval` groups:
/// <list type="bullet">
/// <item><see cref="CreateClipStage"/>: "clip", stage 1 (CLIP pre-training) into --out;</item>
/// <item><see cref="CreateAlphaStage"/>: "alpha-clip", stage 2 (Alpha-CLIP fine-tuning) from a stage-1 folder;</item>
/// <item><see cref="CreateZeroShot"/>: "zero-shot", region classification with whole / box / mask alpha.</item>
/// </list>
/// Training verbs resume from the newest checkpoint in --out, draw a progress bar on stderr, log to --out/log.jsonl,
/// and on Ctrl+C save a checkpoint and exit (run the same command again to continue).
/// </summary>
internal static class TrainClipCommands
{
    sealed class CommonOptions
    {
        public readonly Option<string> Out = new("--out") { Description = "Run folder: checkpoints, log.jsonl and the final towers (resumes " +
            "when it holds a run).", Required = true };
        public readonly Option<int> Steps = new("--steps") { Description = "Total optimizer steps of the run.", DefaultValueFactory = _ => 1000 };
        public readonly Option<int> Batch = new("--batch") { Description = "Image-text pairs per step.", DefaultValueFactory = _ => 64 };
        public readonly Option<double?> Lr = new("--lr") { Description = "Peak learning rate (default: 1e-3 for clip, 2e-4 for alpha-clip)." };
        public readonly Option<int?> Warmup = new("--warmup") { Description = "Linear warm-up steps (default: 30 for clip, 20 for alpha-clip)." };
        public readonly Option<double> WeightDecay = new("--weight-decay") { Description = "AdamW weight decay of matrices.", DefaultValueFactory = _ => 0.1 };
        public readonly Option<long> Seed = new("--seed") { Description = "Seeds the initial weights and the training scene stream.",
            DefaultValueFactory = _ => 0 };
        public readonly Option<int> Threads = new("--threads") { Description = "Torch CPU threads.", DefaultValueFactory = _ => 2 };
        public readonly Option<string> DType = new("--dtype") { Description = "Compute precision (bf16 keeps float32 master weights).",
            DefaultValueFactory = _ => "fp32" };
        public readonly Option<int> CheckpointEvery = new("--checkpoint-every") { Description = "Save a checkpoint every N steps.",
            DefaultValueFactory = _ => 100 };
        public readonly Option<int> EvalEvery = new("--eval-every") { Description = "Zero-shot evaluation on validation scenes every N steps " +
            "(0: at the end only).", DefaultValueFactory = _ => 0 };
        public readonly Option<int> EvalScenes = new("--eval-scenes") { Description = "Validation scenes per evaluation (0: none).",
            DefaultValueFactory = _ => 200 };
        public readonly Option<int?> StopAt = new("--stop-at") { Description = "End this invocation after this step (resumable)." };
        public readonly Option<long?> ScenePool = new("--scene-pool") { Description = "Train on the first N train seeds only (default: the " +
            "whole train split)." };
        public readonly Option<int> ShapeSiblings = new("--shape-siblings") { Description = "Groups of counterfactual siblings per batch: one object of a " +
            "scene drawn once per shape (5 pairs each).", DefaultValueFactory = _ => 0 };

        public CommonOptions() => DType.AcceptOnlyFromAmong("fp32", "bf16");

        public IEnumerable<Option> All =>
            [Out, Steps, Batch, Lr, Warmup, WeightDecay, Seed, Threads, DType, CheckpointEvery, EvalEvery, EvalScenes, StopAt, ScenePool, ShapeSiblings];

        public T Apply<T>(ParseResult parse, T options) where T : ContrastiveTrainingOptions => options with
        {
            Steps = parse.GetValue(Steps),
            BatchSize = parse.GetValue(Batch),
            LearningRate = parse.GetValue(Lr) ?? options.LearningRate,
            WarmupSteps = parse.GetValue(Warmup) ?? Math.Min(options.WarmupSteps, parse.GetValue(Steps)),
            WeightDecay = parse.GetValue(WeightDecay),
            Seed = parse.GetValue(Seed),
            Threads = parse.GetValue(Threads),
            Precision = parse.GetValue(DType) == "bf16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            CheckpointEvery = parse.GetValue(CheckpointEvery),
            EvalEvery = parse.GetValue(EvalEvery),
            EvalScenes = parse.GetValue(EvalScenes),
            StopAtStep = parse.GetValue(StopAt),
            ScenePool = parse.GetValue(ScenePool),
            ShapeSiblingGroups = parse.GetValue(ShapeSiblings),
        };
    }

    /// <summary>`clip`: stage 1, CLIP pre-training of the image tower (alpha conv zero, frozen) and the text tower.</summary>
    public static Command CreateClipStage()
    {
        var common = new CommonOptions();
        var patch = Int("--patch", "Vision patch size.", 8);
        var width = Int("--width", "Vision width.", 128);
        var layers = Int("--layers", "Vision blocks.", 4);
        var heads = Int("--heads", "Vision attention heads.", 4);
        var outputDim = Int("--output-dim", "Shared embedding size.", 128);
        var textWidth = Int("--text-width", "Text width.", 128);
        var textLayers = Int("--text-layers", "Text blocks.", 3);
        var textHeads = Int("--text-heads", "Text attention heads.", 4);
        var context = Int("--context", "Text context length (tokens).", ClipTokenizer.DefaultContextLength);
        var logitScale = new Option<double>("--logit-scale") { Description = "Initial logit scale (learned, clamped at 100).",
            DefaultValueFactory = _ => 1 / 0.07 };
        var fixedScale = new Option<bool>("--fixed-logit-scale") { Description = "Keep the logit scale fixed instead of learning it." };
        var singleFraction = new Option<double>("--single-object-fraction") { Description = "Fraction of each batch that is single-object scenes " +
            "(natural share: 0.25).", DefaultValueFactory = _ => 0.5 };
        var hardNegatives = Int("--hard-negatives", "Hard negative captions per scene (one attribute of one object changed); 0: none.", 1);
        var command = new Command("clip", "Stage 1: CLIP pre-training on whole-image captions of fresh train scenes.");
        foreach (var o in common.All.Concat([patch, width, layers, heads, outputDim, textWidth, textLayers, textHeads, context, logitScale, fixedScale,
            hardNegatives, singleFraction]))
            command.Options.Add(o);
        command.SetAction((parse, cancellation) => Task.FromResult(Guard(parse, () =>
        {
            var options = common.Apply(parse, new ClipTrainerOptions
            {
                Vision = new AlphaClipConfig(ShapesSpec.CanvasSize, parse.GetValue(patch), parse.GetValue(width), parse.GetValue(layers),
                    parse.GetValue(heads), parse.GetValue(outputDim)).Validate(),
                Text = ClipTextConfig.ForShapes(parse.GetValue(textWidth), parse.GetValue(textLayers), parse.GetValue(textHeads),
                    parse.GetValue(outputDim), parse.GetValue(context)),
                InitialLogitScale = parse.GetValue(logitScale),
                LearnLogitScale = !parse.GetValue(fixedScale),
                HardNegatives = parse.GetValue(hardNegatives),
                SingleObjectFraction = parse.GetValue(singleFraction),
            });
            using var trainer = new ClipTrainer(parse.GetValue(common.Out)!, options);
            return Train(parse, trainer, cancellation);
        })));
        return command;
    }

    /// <summary>`alpha-clip`: stage 2, Alpha-CLIP fine-tuning of the image tower on region captions (text tower frozen).</summary>
    public static Command CreateAlphaStage()
    {
        var common = new CommonOptions();
        var from = new Option<string?>("--from") { Description = "Stage-1 folder (vision.* and text.*); not needed to resume." };
        var alphaMultiplier = new Option<double>("--alpha-lr-multiplier") { Description = "conv1_alpha's learning rate over the rest's.",
            DefaultValueFactory = _ => 100 };
        var whole = new Option<double>("--whole-fraction") { Description = "Fraction of whole-image pairs per batch.", DefaultValueFactory = _ => 0.1 };
        var box = new Option<double>("--box-fraction") { Description = "Fraction of region pairs shown with a box instead of a mask.",
            DefaultValueFactory = _ => 0 };
        var logitScale = new Option<double?>("--logit-scale") { Description = "Fixed logit scale (default: the one stage 1 learned; the paper: 100)." };
        var batchCaptionsOnly = new Option<bool>("--batch-captions-only") { Description = "Contrast regions with the batch's captions only (default: all 60 " +
            "region captions are on the text side)." };
        var command = new Command("alpha-clip", "Stage 2: Alpha-CLIP fine-tuning with region alphas and region captions.");
        foreach (var o in common.All.Concat([from, alphaMultiplier, whole, box, logitScale, batchCaptionsOnly])) command.Options.Add(o);
        command.SetAction((parse, cancellation) => Task.FromResult(Guard(parse, () =>
        {
            var options = common.Apply(parse, new AlphaClipTrainerOptions
            {
                AlphaLearningRateMultiplier = parse.GetValue(alphaMultiplier),
                WholeImageFraction = parse.GetValue(whole),
                BoxFraction = parse.GetValue(box),
                LogitScale = parse.GetValue(logitScale),
                AllRegionCaptions = !parse.GetValue(batchCaptionsOnly),
            });
            using var trainer = new AlphaClipTrainer(parse.GetValue(common.Out)!, parse.GetValue(from), options);
            return Train(parse, trainer, cancellation);
        })));
        return command;
    }

    /// <summary>`zero-shot`: top-1 of the 60 "a {size} {color} {shape}" prompts for every object of test scenes.</summary>
    public static Command CreateZeroShot()
    {
        var model = new Option<string>("--model")
        {
            Description = "A model folder (model.json with a classifier: measured through the served path, RegionChatCore.ClassifyAsync), " +
                "or a training folder with vision.safetensors/json and text.safetensors/json (the towers directly).",
            Required = true,
        };
        var scenes = Int("--scenes", "Scenes to evaluate.", 1000);
        var seed = new Option<long>("--seed") { Description = "First scene seed (default: the first test seed).",
            DefaultValueFactory = _ => ShapesSeeds.TestStart };
        var modes = new Option<string>("--modes") { Description = "Comma-separated alpha modes: whole, box, mask.",
            DefaultValueFactory = _ => "whole,box,mask" };
        var threads = Int("--threads", "Torch CPU threads.", 2);
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON line." };
        var command = new Command("zero-shot", "Zero-shot region classification of test scenes (the Alpha-CLIP paper's Table 2 in miniature).")
            { model, scenes, seed, modes, threads, json };
        command.SetAction(parse => Guard(parse, () =>
        {
            int n = parse.GetValue(scenes);
            if (n is < 1 or > 1_000_000) throw new ArgumentException($"--scenes must be 1..1000000, got {n}");
            int t = parse.GetValue(threads);
            if (t < 1) throw new ArgumentException($"--threads must be ≥ 1, got {t}");
            var modeList = parse.GetValue(modes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(m => Enum.TryParse<RegionAlphaMode>(m, ignoreCase: true, out var mode) ? mode
                    : throw new ArgumentException($"--modes: '{m}' is not whole, box or mask")).ToList();
            long first = parse.GetValue(seed);
            ShapesSeeds.SplitOf(first);
            torch.set_num_threads(t);
            string folder = parse.GetValue(model)!;
            if (File.Exists(Path.Combine(folder, ModelManifest.FileName))) return Served(parse, folder, first, n, t, parse.GetValue(json));
            using var vision = ClipTowerFiles.LoadVision(folder);
            using var text = ClipTowerFiles.LoadText(folder);
            using var evaluator = ZeroShotEvaluator.Create(vision, text);
            var report = evaluator.Evaluate(first, n, modeList);
            var stdout = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                stdout.WriteLine(report.ToJson().ToJsonString());
                return 0;
            }
            string split = ShapesSeeds.SplitOf(first).ToString().ToLowerInvariant();
            stdout.WriteLine($"zero-shot region classification: {report.Regions} regions of {report.Scenes} {split} scenes (seeds {first}..), 60 prompts");
            stdout.WriteLine("mode    top-1    size   colour  shape");
            foreach (var r in report.Results)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Mode.ToString().ToLowerInvariant(),-6} {r.Top1,7:P1} {r.SizeAccuracy,7:P1} {r.ColorAccuracy,7:P1} {r.ShapeAccuracy,7:P1}"));
            return 0;
        }));
        return command;
    }

    // eval zero-shot on a model folder: mask, box and whole image through the served path, plain CLIP on the towers.
    static int Served(ParseResult parse, string folder, long first, int n, int threads, bool json)
    {
        using var core = RegionChatCore.ForModelFolder(folder, new RegionChatCoreOptions { Threads = threads, ParallelSequences = 1, VisualCacheBytes = 0 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var scenes = ShapesGenerator.GenerateMany(first, n).ToList();
        var f = ServedZeroShot.MeasureAsync(core, scenes).GetAwaiter().GetResult();
        var stdout = parse.InvocationConfiguration.Output;
        static object? Value(ShapesEvalFraction? x) => x is null ? null : Math.Round(x.Value, 6);
        if (json)
        {
            stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                path = "served", model = core.DefaultModelId, scenes = n, seed = first, regions = f.AlphaMask!.Total,
                clip_whole = Value(f.ClipWhole), alpha_whole = Value(f.AlphaWhole), alpha_box = Value(f.AlphaBox), alpha_mask = Value(f.AlphaMask),
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            }));
            return 0;
        }
        stdout.WriteLine($"zero-shot region classification through the served path ({core.DefaultModelId}): {f.AlphaMask!.Total} regions of {n} " +
            $"scenes (seeds {first}..), the 60 captions as labels");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plain CLIP, whole image  {Fraction(f.ClipWhole, f.ClipNote)}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Alpha-CLIP, whole image  {Fraction(f.AlphaWhole, null)}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Alpha-CLIP, box          {Fraction(f.AlphaBox, null)}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Alpha-CLIP, mask         {Fraction(f.AlphaMask, null)}"));
        return 0;

        static string Fraction(ShapesEvalFraction? x, string? note) =>
            x is null ? $"n/a ({note})" : string.Create(CultureInfo.InvariantCulture, $"{x.Value,7:P1}  ({x})");
    }

    static int Train(ParseResult parse, ContrastiveTrainer trainer, CancellationToken cancellation)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var bar = new TrainingProgressBar(parse.InvocationConfiguration.Error);
        if (trainer.Step > 0) stdout.WriteLine($"{trainer.Stage}: resuming {trainer.OutputFolder} at step {trainer.Step}");
        var result = trainer.Run(bar.Report, cancellation);
        parse.InvocationConfiguration.Error.WriteLine();
        string state = result.Completed ? "done" : "stopped (run the same command to resume)";
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{trainer.Stage}: step {result.Step}/{result.Steps} {state}; last " +
            $"loss {(result.LastLoss is { } l ? l.ToString("F4", CultureInfo.InvariantCulture) : "-")}"));
        if (result.LastEval is { } eval) stdout.WriteLine($"{trainer.Stage}: zero-shot on {eval.Scenes} validation scenes: {eval.Summary()}");
        stdout.WriteLine($"{trainer.Stage}: towers in {result.OutputFolder} ({ClipTowerFiles.VisionWeights}, {ClipTowerFiles.TextWeights}), log in log.jsonl");
        return 0;
    }

    /// <summary>Bad input gives one clear line on stderr and exit code 1 instead of a stack trace.</summary>
    static int Guard(ParseResult parse, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException)
        {
            string message = e.Message;
            if (e is ArgumentException { ParamName: { } name }) message = message.Replace($" (Parameter '{name}')", "");
            parse.InvocationConfiguration.Error.WriteLine($"error: {message.Split('\n')[0].Trim()}");
            return 1;
        }
    }
}
