using RegionChat.Llm.Gguf;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Vision;

namespace RegionChat.Training.Pipeline;

/// <summary>
/// The settings of every stage of `train shapes`: <see cref="Full"/> (the shipped model's recipe) or <see cref="Smoke"/>
/// (a CI-sized run: tiny models, a handful of fixed scenes, a few dozen steps).
/// </summary>
public sealed record ShapesRecipe
{
    public required ClipTrainerOptions Clip { get; init; }
    public required AlphaClipTrainerOptions Alpha { get; init; }
    public required LlmPretrainOptions Llm { get; init; }
    public required ProjectorAlignOptions Projector { get; init; }
    public required InstructionTuneOptions Instruct { get; init; }

    /// <summary>Stage 6: stage 5 continued on conversations (MaxTurns &gt; 1), the LLM's context widened.</summary>
    public required InstructionTuneOptions Chat { get; init; }

    /// <summary>The architecture of the random stand-in tower (used when no trained tower is given or present).</summary>
    public required AlphaClipConfig RandomVision { get; init; }

    /// <summary>A trained vision tower folder (vision.* and optionally text.*) to use instead of stages 1–2.</summary>
    public string? VisionFolder { get; init; }

    /// <summary>Weight type of the exported llm.gguf (F32 or F16).</summary>
    public GgmlType ExportLlmType { get; init; } = GgmlType.F32;

    /// <summary>Steps of the full recipe's stage 6 (chat tuning).</summary>
    public const int ChatSteps = 6000;

    /// <summary>The full recipe, its step counts multiplied by <paramref name="stepsScale"/>.</summary>
    public static ShapesRecipe Full(long seed = 0, double stepsScale = 1, int threads = 2)
    {
        // Counterfactual shape siblings in stages 1–2 and the CLS token for the LLM: see RECIPE.md for the measurements.
        var clip = new ClipTrainerOptions { Steps = 3000, ShapeSiblingGroups = 8 };
        var alpha = new AlphaClipTrainerOptions { Steps = 5000, ShapeSiblingGroups = 6, BoxFraction = 0.25 };
        return new ShapesRecipe
        {
            Clip = clip with { Seed = seed, Threads = threads, Steps = Scale(clip.Steps, stepsScale),
                WarmupSteps = Warmup(clip.WarmupSteps, clip.Steps, stepsScale) },
            Alpha = alpha with { Seed = seed, Threads = threads, Steps = Scale(alpha.Steps, stepsScale),
                WarmupSteps = Warmup(alpha.WarmupSteps, alpha.Steps, stepsScale) },
            Llm = Scaled(new LlmPretrainOptions { Steps = 200, EvalScenes = 50, CheckpointEvery = 100, ContextLength = 1024 }, seed, stepsScale, threads),
            Projector = Scaled(new ProjectorAlignOptions { Steps = 300, EvalScenes = 30, CheckpointEvery = 100, IncludeCls = true }, seed, stepsScale, threads),
            Instruct = Scaled(new InstructionTuneOptions { Steps = 6000, EvalScenes = 30, CheckpointEvery = 100 }, seed, stepsScale, threads),
            Chat = Scaled(new InstructionTuneOptions
            {
                Steps = ChatSteps, BatchSize = 16, LearningRate = 5e-4, WarmupSteps = 180, MaxTurns = 5, ContextLength = 1024,
                EvalScenes = 30, CheckpointEvery = 50, VisualTokenBudgetShare = 0.3, VisualTokenBudget = 17,
                // The relation mix of the shipped copy's continuations (RECIPE.md, "Left of needs the region's position").
                RelationShare = 0.35, LeftOfShare = 0.35, PreviousShare = 0.6, MatchShare = 0.5, PositionShare = 0.9,
                RegionPositionMap = true,
            }, seed, stepsScale, threads),
            RandomVision = clip.Vision,
        };
    }

    /// <summary>A CI-sized run: tiny towers and LLM, 8 fixed training scenes, a few dozen steps per stage.</summary>
    public static ShapesRecipe Smoke(long seed = 0, double stepsScale = 1, int threads = 1)
    {
        var vision = new AlphaClipConfig(64, 16, 32, 2, 2, 32);
        return new ShapesRecipe
        {
            Clip = new ClipTrainerOptions
            {
                Vision = vision, Text = ClipTextConfig.ForShapes(32, 1, 2, 32), Steps = Scale(4, stepsScale), BatchSize = 8,
                WarmupSteps = 1, EvalScenes = 4, ScenePool = 8, Seed = seed, Threads = threads, CheckpointEvery = 100,
            },
            Alpha = new AlphaClipTrainerOptions
            {
                Steps = Scale(4, stepsScale), BatchSize = 8, WarmupSteps = 1, EvalScenes = 4, ScenePool = 8, Seed = seed, Threads = threads,
                CheckpointEvery = 100,
            },
            Llm = new LlmPretrainOptions
            {
                EmbeddingLength = 32, Layers = 2, Heads = 2, KvHeads = 2, FeedForward = 88, ContextLength = 64,
                Steps = Scale(40, stepsScale), BatchSize = 8, WarmupSteps = 3, LearningRate = 1e-2, ScenePool = 8, EvalScenes = 2,
                Seed = seed, Threads = threads, CheckpointEvery = 100,
            },
            Projector = new ProjectorAlignOptions
            {
                IncludeCls = true,
                Steps = Scale(30, stepsScale), BatchSize = 8, WarmupSteps = 3, LearningRate = 1e-2, ScenePool = 8, EvalScenes = 2,
                Seed = seed, Threads = threads, CheckpointEvery = 100,
            },
            Instruct = new InstructionTuneOptions
            {
                Steps = Scale(30, stepsScale), BatchSize = 8, WarmupSteps = 3, LearningRate = 5e-3, ScenePool = 8, EvalScenes = 2,
                Seed = seed, Threads = threads, CheckpointEvery = 100,
            },
            Chat = new InstructionTuneOptions
            {
                Steps = Scale(10, stepsScale), BatchSize = 4, WarmupSteps = 2, LearningRate = 2e-3, ScenePool = 8, EvalScenes = 2,
                MaxTurns = 3, ContextLength = 256, Seed = seed, Threads = threads, CheckpointEvery = 100,
                VisualTokenBudgetShare = 0.5, VisualTokenBudget = 3,
                PreviousShare = 0.5, MatchShare = 0.5, PositionShare = 0.5, RegionPositionMap = true,
            },
            RandomVision = vision,
        };
    }

    static T Scaled<T>(T options, long seed, double scale, int threads) where T : LlavaTrainingOptions => options with
    {
        Seed = seed,
        Threads = threads,
        Steps = Scale(options.Steps, scale),
        WarmupSteps = Warmup(options.WarmupSteps, options.Steps, scale),
    };

    static int Scale(int steps, double scale)
    {
        if (!double.IsFinite(scale) || scale <= 0 || scale > 1000)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "--steps-scale must be a number in (0, 1000]");
        return Math.Max(1, (int)Math.Round(steps * scale));
    }

    static int Warmup(int warmup, int steps, double scale) => Math.Min(Scale(warmup, scale), Scale(steps, scale));
}
