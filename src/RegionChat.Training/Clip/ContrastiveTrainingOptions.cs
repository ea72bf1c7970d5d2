using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.Vision;

namespace RegionChat.Training.Clip;

/// <summary>Compute precision of a training run. BFloat16 computes in bf16 and updates float32 master weights.</summary>
public enum TrainingPrecision { Float32, BFloat16 }

/// <summary>
/// What both contrastive stages share. The fields that shape the trained weights (<see cref="TrainingKey"/>) must stay
/// the same when a run is resumed; threads, checkpoint and eval cadence, and the step budget of one invocation may change.
/// </summary>
public abstract record ContrastiveTrainingOptions
{
    /// <summary>Total optimizer steps of the run (the learning-rate schedule spans them).</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Image–text pairs per step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate (after warm-up; cosine decay to zero at <see cref="Steps"/>).</summary>
    public double LearningRate { get; init; } = 5e-4;

    public int WarmupSteps { get; init; } = 50;

    /// <summary>Decoupled (AdamW) weight decay of matrices; biases, norms, embeddings and the logit scale get none.</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Seeds the initial weights and the stream of training scenes.</summary>
    public long Seed { get; init; }

    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>Draw training scenes from the first N train seeds only (a fixed small set, e.g. for overfitting tests); null: the whole train split.</summary>
    public long? ScenePool { get; init; }

    /// <summary>Torch CPU threads (torch.set_num_threads).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>
    /// Groups of counterfactual siblings per batch: one object of a scene drawn once per shape (5 images that differ only in
    /// that object's shape, with captions that differ only in the shape word; stage 1 uses single-object scenes), before the batch's other scenes. Within a
    /// group only
    /// shape tells the pairs apart, so both towers must learn it from the first steps (measured without them: prompts that
    /// differ only in shape stayed at cosine 0.956 after 500 steps, and whole-image shape accuracy at chance).
    /// </summary>
    public int ShapeSiblingGroups { get; init; }

    /// <summary>Save a checkpoint every N steps (and always at the end or on cancellation).</summary>
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Checkpoints kept on disk (oldest deleted first).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Zero-shot evaluation on validation scenes every N steps (0: only after the last step).</summary>
    public int EvalEvery { get; init; }

    /// <summary>Validation scenes per evaluation (0 disables evaluation).</summary>
    public int EvalScenes { get; init; } = 200;

    /// <summary>Stop this invocation after this step (the run stays resumable); null: run to <see cref="Steps"/>.</summary>
    public int? StopAtStep { get; init; }

    /// <summary>Throws ArgumentException naming the first bad value.</summary>
    public virtual void Validate()
    {
        Check(Steps is >= 1 and <= 10_000_000, $"steps {Steps} must be in 1..10000000");
        Check(BatchSize is >= 2 and <= 65_536, $"batch size {BatchSize} must be in 2..65536");
        Check(LearningRate is > 0 and <= 1 && double.IsFinite(LearningRate), $"learning rate {LearningRate} must be in (0, 1]");
        Check(WarmupSteps >= 0 && WarmupSteps <= Steps, $"warm-up steps {WarmupSteps} must be in 0..steps ({Steps})");
        Check(WeightDecay is >= 0 and <= 10, $"weight decay {WeightDecay} must be in 0..10");
        Check(ScenePool is null or (>= 1 and <= ShapesSeeds.ValidationStart),
            $"scene pool {ScenePool} must be in 1..{ShapesSeeds.ValidationStart} (train seeds only)");
        Check(Threads is >= 1 and <= 1024, $"threads {Threads} must be in 1..1024");
        Check(ShapeSiblingGroups >= 0 && ShapeSiblingGroups * ShapeWords.AllShapes.Count <= BatchSize,
            $"{ShapeSiblingGroups} sibling groups of {ShapeWords.AllShapes.Count} scenes do not fit a batch of {BatchSize}");
        Check(CheckpointEvery >= 1, $"checkpoint interval {CheckpointEvery} must be ≥ 1");
        Check(KeepCheckpoints >= 1, $"kept checkpoints {KeepCheckpoints} must be ≥ 1");
        Check(EvalEvery >= 0, $"eval interval {EvalEvery} must be ≥ 0");
        Check(EvalScenes is >= 0 and <= 1_000_000, $"eval scenes {EvalScenes} must be in 0..1000000");
        Check(StopAtStep is null or >= 0, $"stop step {StopAtStep} must be ≥ 0");
    }

    /// <summary>The settings that determine the trained weights, as JSON (compared on resume, stored in run.json).</summary>
    public virtual JsonObject TrainingKey()
    {
        var key = new JsonObject
        {
            ["steps"] = Steps, ["batch_size"] = BatchSize, ["learning_rate"] = LearningRate, ["warmup_steps"] = WarmupSteps,
            ["weight_decay"] = WeightDecay, ["seed"] = Seed, ["precision"] = Precision.ToString(), ["scene_pool"] = ScenePool,
        };
        if (ShapeSiblingGroups > 0) key["shape_sibling_groups"] = ShapeSiblingGroups;   // absent = 0: older runs still resume
        return key;
    }

    /// <summary>Learning rate at a 1-based step: linear warm-up, then cosine decay to zero at the last step.</summary>
    public double LearningRateAt(int step)
    {
        if (WarmupSteps > 0 && step <= WarmupSteps) return LearningRate * step / WarmupSteps;
        double progress = Steps == WarmupSteps ? 1 : (double)(step - WarmupSteps) / (Steps - WarmupSteps);
        return LearningRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
    }

    protected static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}

/// <summary>Stage 1: CLIP pre-training of a fresh image tower (alpha conv zero and frozen) and text tower on whole-image captions.</summary>
public sealed record ClipTrainerOptions : ContrastiveTrainingOptions
{
    public ClipTrainerOptions()
    {
        LearningRate = 1e-3;
        WarmupSteps = 30;
    }

    public AlphaClipConfig Vision { get; init; } = new(64, 8, 128, 4, 4, 128);

    public ClipTextConfig Text { get; init; } = ClipTextConfig.ForShapes(128, 3, 4, 128);

    /// <summary>The logit scale's start value (CLIP: 1/0.07); it is learned when <see cref="LearnLogitScale"/>, clamped at 100.</summary>
    public double InitialLogitScale { get; init; } = 1 / 0.07;

    public bool LearnLogitScale { get; init; } = true;

    /// <summary>
    /// Hard negative captions per scene (NegCLIP-style): the scene's caption with one attribute (shape, colour or size,
    /// uniformly) of one object changed. They join the image→text softmax only. Without them the whole-image task is
    /// solved by colours and sizes alone, and the text tower never learns to tell shape words apart (measured: prompts
    /// that differ only in shape had cosine 0.9999 after 300 steps, which caps stage 2, whose text tower is frozen).
    /// </summary>
    public int HardNegatives { get; init; } = 1;

    /// <summary>
    /// Fraction of each batch that is single-object scenes (the rest: any scenes; the natural share is ¼). A single-object
    /// scene's caption is a region prompt ("a large red circle"), and with many of them a batch holds scenes that differ
    /// only in shape, so both towers must encode shape to tell them apart.
    /// </summary>
    public double SingleObjectFraction { get; init; } = 0.5;


    public override void Validate()
    {
        base.Validate();
        Check(HardNegatives is >= 0 and <= 16, $"hard negatives per scene {HardNegatives} must be in 0..16");
        Check(SingleObjectFraction is >= 0 and <= 1, $"single-object fraction {SingleObjectFraction} must be in [0, 1]");
        Vision.Validate();
        Text.Validate();
        Check(Vision.InputResolution == ShapesSpec.CanvasSize,
            $"vision input resolution {Vision.InputResolution} must be the scene size {ShapesSpec.CanvasSize}");
        Check(Vision.OutputDim == Text.OutputDim, $"vision output_dim {Vision.OutputDim} must equal text output_dim {Text.OutputDim} (one embedding space)");
        Check(Text.VocabularySize == ClipTokenizer.ForShapes(Text.ContextLength).VocabularySize,
            $"text vocab_size {Text.VocabularySize} is not the shapes vocabulary's {ClipTokenizer.ForShapes(Text.ContextLength).VocabularySize}");
        Check(InitialLogitScale is >= 1 and <= 100, $"initial logit scale {InitialLogitScale} must be in 1..100");
    }

    public override JsonObject TrainingKey()
    {
        var key = base.TrainingKey();
        key["stage"] = "clip";
        key["vision"] = JsonNode.Parse(Vision.ToJson());
        key["text"] = new JsonObject
        {
            ["context_length"] = Text.ContextLength, ["vocab_size"] = Text.VocabularySize, ["width"] = Text.Width,
            ["layers"] = Text.Layers, ["heads"] = Text.Heads, ["output_dim"] = Text.OutputDim,
        };
        key["initial_logit_scale"] = InitialLogitScale;
        key["learn_logit_scale"] = LearnLogitScale;
        key["hard_negatives"] = HardNegatives;
        key["single_object_fraction"] = SingleObjectFraction;
        return key;
    }
}

/// <summary>
/// Stage 2 (Alpha-CLIP §3.2): the whole image tower is fine-tuned on region captions with region alphas, the text
/// tower frozen, conv1_alpha (starting at zero) at <see cref="AlphaLearningRateMultiplier"/>× the learning rate.
/// </summary>
public sealed record AlphaClipTrainerOptions : ContrastiveTrainingOptions
{
    public AlphaClipTrainerOptions()
    {
        LearningRate = 2e-4;
        WarmupSteps = 20;
    }

    /// <summary>conv1_alpha's learning rate over the rest of the image tower's (the paper: 100).</summary>
    public double AlphaLearningRateMultiplier { get; init; } = 100;

    /// <summary>Fraction of each batch that is whole-image pairs (all-ones alpha, whole-image caption); the paper: 0.1.</summary>
    public double WholeImageFraction { get; init; } = 0.1;

    /// <summary>Fraction of region pairs shown with their bounding box instead of their mask as alpha.</summary>
    public double BoxFraction { get; init; }

    /// <summary>
    /// The fixed logit scale; null: the scale stage 1 learned (text.json's logit_scale, 100 when absent). The paper fixes
    /// 100, which is what OpenAI's CLIP had learned; a small model trained briefly learns a smaller one, and jumping to 100
    /// sharpens its logits several-fold (measured: slower stage-2 progress).
    /// </summary>
    public double? LogitScale { get; init; }

    /// <summary>
    /// Put all 60 region captions on the text side of every batch (those without a region in the batch as negatives
    /// only), so each region is told apart from every other class, not just from the classes that happen to be drawn.
    /// The text tower is frozen, so this costs nothing.
    /// </summary>
    public bool AllRegionCaptions { get; init; } = true;

    public override void Validate()
    {
        base.Validate();
        Check(AlphaLearningRateMultiplier is > 0 and <= 1e6, $"alpha learning-rate multiplier {AlphaLearningRateMultiplier} must be in (0, 1e6]");
        Check(WholeImageFraction is >= 0 and < 1, $"whole-image fraction {WholeImageFraction} must be in [0, 1)");
        Check(BoxFraction is >= 0 and <= 1, $"box fraction {BoxFraction} must be in [0, 1]");
        Check(LogitScale is null or (>= 1 and <= 1000), $"logit scale {LogitScale} must be in 1..1000");
    }

    public override JsonObject TrainingKey()
    {
        var key = base.TrainingKey();
        key["stage"] = "alpha-clip";
        key["alpha_lr_multiplier"] = AlphaLearningRateMultiplier;
        key["whole_image_fraction"] = WholeImageFraction;
        key["box_fraction"] = BoxFraction;
        key["logit_scale"] = LogitScale;
        key["all_region_captions"] = AllRegionCaptions;
        return key;
    }
}
