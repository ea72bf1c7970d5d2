using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>
/// What the LLaVA stages (3 LLM pre-training, 4 projector alignment, 5 instruction tuning) share. The fields of
/// <see cref="TrainingKey"/> shape the trained weights and must stay the same when a run resumes; threads, checkpoint
/// and evaluation cadence and <see cref="StopAtStep"/> may change between invocations.
/// </summary>
public abstract record LlavaTrainingOptions
{
    /// <summary>Total optimizer steps (the learning-rate schedule spans them).</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate (linear warm-up, then cosine decay to <see cref="MinLearningRateFraction"/> of it).</summary>
    public double LearningRate { get; init; } = 1e-3;

    public int WarmupSteps { get; init; } = 20;

    /// <summary>The learning rate at the last step as a fraction of the peak.</summary>
    public double MinLearningRateFraction { get; init; } = 0.1;

    /// <summary>Decoupled (AdamW) weight decay of weight matrices; norms, biases and the token embeddings get none.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Seeds the initial weights and the stream of training scenes.</summary>
    public long Seed { get; init; }

    /// <summary>Draw scenes from the first N train seeds only (a fixed set, e.g. to overfit in tests); null: the whole train split.</summary>
    public long? ScenePool { get; init; }

    /// <summary>Torch CPU threads.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Checkpoint every N steps (and always when a run ends).</summary>
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Checkpoints kept on disk (oldest deleted first).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Stop this invocation after this step (a later run resumes); null: run to <see cref="Steps"/>.</summary>
    public int? StopAtStep { get; init; }

    /// <summary>Evaluate on validation scenes every N steps (0: only after the last step).</summary>
    public int EvalEvery { get; init; }

    /// <summary>Validation scenes per evaluation (0: no evaluation).</summary>
    public int EvalScenes { get; init; } = 50;

    /// <summary>Throws ArgumentException naming the first bad value.</summary>
    public virtual void Validate()
    {
        Check(Steps is >= 1 and <= 10_000_000, $"steps {Steps} must be in 1..10000000");
        Check(BatchSize is >= 1 and <= 65_536, $"batch size {BatchSize} must be in 1..65536");
        Check(double.IsFinite(LearningRate) && LearningRate is > 0 and <= 1, $"learning rate {LearningRate} must be in (0, 1]");
        Check(WarmupSteps >= 0 && WarmupSteps <= Steps, $"warm-up steps {WarmupSteps} must be in 0..steps ({Steps})");
        Check(MinLearningRateFraction is >= 0 and <= 1, $"minimum learning-rate fraction {MinLearningRateFraction} must be in 0..1");
        Check(WeightDecay is >= 0 and <= 10, $"weight decay {WeightDecay} must be in 0..10");
        Check(ScenePool is null or (>= 1 and <= ShapesSeeds.ValidationStart),
            $"scene pool {ScenePool} must be in 1..{ShapesSeeds.ValidationStart} (train seeds only)");
        Check(Threads is >= 1 and <= 1024, $"threads {Threads} must be in 1..1024");
        Check(CheckpointEvery >= 1, $"checkpoint interval {CheckpointEvery} must be ≥ 1");
        Check(KeepCheckpoints >= 1, $"kept checkpoints {KeepCheckpoints} must be ≥ 1");
        Check(StopAtStep is null or >= 0, $"stop step {StopAtStep} must be ≥ 0");
        Check(EvalEvery >= 0, $"eval interval {EvalEvery} must be ≥ 0");
        Check(EvalScenes is >= 0 and <= 1_000_000, $"eval scenes {EvalScenes} must be in 0..1000000");
    }

    /// <summary>The settings that determine the trained weights (stored in run.json and compared on resume).</summary>
    public virtual JsonObject TrainingKey() => new()
    {
        ["steps"] = Steps, ["batch_size"] = BatchSize, ["learning_rate"] = LearningRate, ["warmup_steps"] = WarmupSteps,
        ["min_lr_fraction"] = MinLearningRateFraction, ["weight_decay"] = WeightDecay, ["seed"] = Seed, ["scene_pool"] = ScenePool,
    };

    /// <summary>Learning rate at a 1-based step: linear warm-up, then cosine decay to the minimum at the last step.</summary>
    public double LearningRateAt(int step)
    {
        if (WarmupSteps > 0 && step <= WarmupSteps) return LearningRate * step / WarmupSteps;
        double progress = Steps == WarmupSteps ? 1 : (double)(step - WarmupSteps) / (Steps - WarmupSteps);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
        return LearningRate * (MinLearningRateFraction + (1 - MinLearningRateFraction) * cosine);
    }

    protected static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
