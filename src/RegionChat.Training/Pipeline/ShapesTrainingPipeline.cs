using System.Diagnostics;
using System.Text.Json.Nodes;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;

namespace RegionChat.Training.Pipeline;

/// <summary>
/// `train shapes`: runs the recipe's stages in order in one output folder (<see cref="ShapesRunLayout"/>), each
/// resuming from its newest checkpoint (a finished stage costs only a reload), then exports the model folder.
/// Stages 1–2 (CLIP, Alpha-CLIP) are skipped when the recipe names a trained vision tower folder; the LLaVA stages
/// take the vision tower from that folder, else from alpha/ when stage 2 has written one, else from a seeded random
/// tower in vision-random/ (stated in the log).
/// </summary>
public sealed class ShapesTrainingPipeline(string outputFolder, ShapesRecipe recipe)
{
    public ShapesRunLayout Layout { get; } = new(outputFolder);
    public ShapesRecipe Recipe { get; } = recipe ?? throw new ArgumentNullException(nameof(recipe));

    /// <summary>Informational lines (which tower is used, exports); the CLI prints them to stderr.</summary>
    public event Action<string>? Message;

    /// <summary>Every step of every stage.</summary>
    public event Action<ShapesPipelineProgress>? Progress;

    /// <summary>The stages <paramref name="stage"/> stands for, in run order.</summary>
    public IReadOnlyList<ShapesStage> StagesOf(ShapesStage stage) => stage switch
    {
        ShapesStage.All when Recipe.VisionFolder != null =>
            [ShapesStage.Llm, ShapesStage.Projector, ShapesStage.Instruct, ShapesStage.Chat, ShapesStage.Export],
        ShapesStage.All => [ShapesStage.Clip, ShapesStage.Alpha, ShapesStage.Llm, ShapesStage.Projector, ShapesStage.Instruct, ShapesStage.Chat,
            ShapesStage.Export],
        ShapesStage.Instruct => [ShapesStage.Instruct, ShapesStage.Chat, ShapesStage.Export],
        ShapesStage.Chat => [ShapesStage.Chat, ShapesStage.Export],
        _ => [stage],
    };

    /// <summary>Runs the stages; a cancelled run checkpoints the current stage and stops (later stages do not run).</summary>
    public IReadOnlyList<ShapesStageResult> Run(ShapesStage stage, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(Layout.Root);
        var results = new List<ShapesStageResult>();
        foreach (var s in StagesOf(stage))
        {
            if (cancellation.IsCancellationRequested) break;
            var result = RunStageResuming(s, cancellation);
            results.Add(result);
            if (!result.Completed) break;    // later stages need this one finished
        }
        return results;
    }

    /// <summary>Native failures a resume from the last checkpoint gets past (see <see cref="RunStageResuming"/>).</summary>
    public const int NativeFailureRetries = 3;

    /// <summary>
    /// <see cref="RunStage"/>, resumed from the stage's last checkpoint after a native (libtorch) failure, up to
    /// <see cref="NativeFailureRetries"/> times. Why: TorchSharp passes temporary Scalars to native calls without keeping them
    /// alive, so a garbage collection can rarely free one mid-call ("Expected false to be true … toFloat"). A step's data
    /// is a pure function of (seed, step), so the resumed run ends exactly where an uninterrupted one would.
    /// </summary>
    public ShapesStageResult RunStageResuming(ShapesStage stage, CancellationToken cancellation = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return RunStage(stage, cancellation);
            }
            catch (System.Runtime.InteropServices.ExternalException e) when (attempt < NativeFailureRetries)
            {
                Message?.Invoke($"{stage}: native failure ({e.Message.Split('\n')[0]}); resuming from the last checkpoint " +
                    $"({attempt + 1}/{NativeFailureRetries})");
            }
        }
    }

    /// <summary>Runs (or resumes, or just reloads when finished) one stage.</summary>
    public ShapesStageResult RunStage(ShapesStage stage, CancellationToken cancellation = default)
    {
        switch (stage)
        {
            case ShapesStage.Clip:
            {
                using var trainer = new ClipTrainer(Layout.Clip, Recipe.Clip);
                return FromClip(ShapesStage.Clip, trainer.Run(p => Report(ShapesStage.Clip, p), cancellation));
            }
            case ShapesStage.Alpha:
            {
                if (!ClipTowerFiles.Exist(Layout.Clip) && !Directory.Exists(Path.Combine(Layout.Alpha, AlphaClipTrainer.InitFolder)))
                    throw new InvalidOperationException($"stage alpha needs stage clip's towers in {Layout.Clip}: run --stage clip first");
                using var trainer = new AlphaClipTrainer(Layout.Alpha, Layout.Clip, Recipe.Alpha);
                return FromClip(ShapesStage.Alpha, trainer.Run(p => Report(ShapesStage.Alpha, p), cancellation));
            }
            case ShapesStage.Llm:
            {
                using var trainer = new LlmPretrainer(Layout.Llm, Recipe.Llm);
                return FromLlava(ShapesStage.Llm, trainer.Run(p => Report(ShapesStage.Llm, p), cancellation));
            }
            case ShapesStage.Projector:
            {
                string? vision = null;
                if (!Directory.Exists(Path.Combine(Layout.Projector, LlavaTrainer.InitFolder)))
                {
                    if (!LlavaTrainer.IsComplete(Layout.Llm))
                        throw new InvalidOperationException($"stage projector needs a finished stage llm in {Layout.Llm}: run --stage llm first");
                    vision = VisionFolder();
                }
                using var trainer = new ProjectorAligner(Layout.Projector, Recipe.Projector, vision, Layout.Llm);
                return FromLlava(ShapesStage.Projector, trainer.Run(p => Report(ShapesStage.Projector, p), cancellation));
            }
            case ShapesStage.Instruct:
            {
                if (!Directory.Exists(Path.Combine(Layout.Instruct, LlavaTrainer.InitFolder)) && !LlavaTrainer.IsComplete(Layout.Projector))
                    throw new InvalidOperationException($"stage instruct needs a finished stage projector in {Layout.Projector}: run --stage projector first");
                using var trainer = new InstructionTuner(Layout.Instruct, Recipe.Instruct, Layout.Projector);
                return FromLlava(ShapesStage.Instruct, trainer.Run(p => Report(ShapesStage.Instruct, p), cancellation));
            }
            case ShapesStage.Chat:
            {
                bool fresh = !Directory.Exists(Path.Combine(Layout.Chat, LlavaTrainer.InitFolder));
                if (fresh && !LlavaTrainer.IsComplete(Layout.Instruct))
                    throw new InvalidOperationException($"stage chat needs a finished stage instruct in {Layout.Instruct}: run --stage instruct first");
                using var trainer = InstructionTuner.ContinueFrom(Layout.Chat, Recipe.Chat, fresh ? Layout.Instruct : null);
                return FromLlava(ShapesStage.Chat, trainer.Run(p => Report(ShapesStage.Chat, p), cancellation));
            }
            case ShapesStage.Export:
            {
                if (!LlavaTrainer.IsComplete(Layout.Chat))
                    throw new InvalidOperationException($"export needs a finished stage chat in {Layout.Chat}: run --stage instruct first (it runs chat " +
                        "too), or --stage chat after it");
                var clock = Stopwatch.StartNew();
                var export = ShapesModelExporter.Export(Layout.Chat, Layout.Model, Recipe.ExportLlmType, clipVisionFolder: Layout.Clip);
                string summary = $"{export.Files.Count} files, {export.TotalBytes / 1e6:F1} MB: {string.Join(", ", export.Files)}";
                Message?.Invoke($"export: wrote {export.Folder} ({summary})");
                return new ShapesStageResult(ShapesStage.Export, export.Folder, 1, 1, true, null, null, clock.Elapsed, summary);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(stage), stage, "not a single stage");
        }
    }

    /// <summary>The vision tower the LLaVA stages start from (see the class summary for the order).</summary>
    public string VisionFolder()
    {
        if (Recipe.VisionFolder is { } given)
        {
            if (!ShapesModelFiles.HasVision(given))
                throw new ArgumentException($"--vision {given} holds no {ClipTowerFiles.VisionWeights} + {ClipTowerFiles.VisionConfig}");
            Message?.Invoke($"vision tower: {Path.GetFullPath(given)} (given)");
            return given;
        }
        if (ShapesModelFiles.HasVision(Layout.Alpha))
        {
            Message?.Invoke($"vision tower: {Layout.Alpha} (stage 2, Alpha-CLIP)");
            return Layout.Alpha;
        }
        Message?.Invoke($"vision tower: no trained tower given or in {Layout.Alpha}; using a seeded RANDOM tower in {Layout.RandomVision}");
        return RandomVisionTower.Ensure(Layout.RandomVision, Recipe.RandomVision, Recipe.Llm.Seed);
    }

    void Report(ShapesStage stage, TrainingProgress p) =>
        Progress?.Invoke(new ShapesPipelineProgress(stage, p.Step, p.Steps, p.Loss, p.Accuracy, p.StepSeconds, p.Elapsed, p.Eval?.Summary()));

    void Report(ShapesStage stage, LlavaTrainingProgress p) =>
        Progress?.Invoke(new ShapesPipelineProgress(stage, p.Step, p.Steps, p.Loss, p.Accuracy, p.StepSeconds, p.Elapsed, Summarise(p.Eval)));

    static ShapesStageResult FromClip(ShapesStage stage, TrainingResult r) =>
        new(stage, r.OutputFolder, r.Step, r.Steps, r.Completed, r.ResumedFrom, r.LastLoss, TimeSpan.Zero, r.LastEval?.Summary());

    static ShapesStageResult FromLlava(ShapesStage stage, LlavaTrainingResult r) =>
        new(stage, r.OutputFolder, r.Step, r.Steps, r.Completed, r.ResumedFrom, r.LastLoss, r.Elapsed, Summarise(r.LastEval));

    /// <summary>"accuracy 0.91 (whole 0.8 mask 0.95 box 0.9)" or "loss 0.12 token_accuracy 0.97".</summary>
    static string? Summarise(JsonObject? eval)
    {
        if (eval is null) return null;
        if (eval["by_mode"] is JsonObject modes)
            return $"accuracy {eval["accuracy"]} (" + string.Join(' ', modes.Select(m => $"{m.Key} {m.Value?["accuracy"]}")) + ")";
        return string.Join(' ', eval.Where(kv => kv.Key is "loss" or "token_accuracy").Select(kv => $"{kv.Key} {kv.Value}"));
    }
}
