using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Training.Clip.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// The training loop both stages share: deterministic batches, AdamW with per-parameter learning-rate multipliers,
/// log.jsonl, zero-shot evaluation on validation scenes, checkpoints and exact resume.
/// <para>Output folder: <c>run.json</c> (stage and training settings; a resume must match them), <c>log.jsonl</c>,
/// <c>checkpoints/step-NNNNNNNN/{state.safetensors, state.json}</c> (float32 master weights as "param.NAME", AdamW moments
/// as "adam.m.NAME"/"adam.v.NAME"; state.json holds the step and AdamW's step count; the training data is a pure
/// function of (seed, step), so nothing else is needed to continue bit for bit), and the towers
/// (<see cref="ClipTowerFiles"/>) written whenever a run ends.</para>
/// </summary>
public abstract class ContrastiveTrainer : IDisposable
{
    public const string RunFile = "run.json";

    readonly ContrastiveTrainingOptions options;
    readonly CheckpointStore checkpoints;
    MasterWeightAdamW? optimizer;
    int step;
    int? resumedFrom;

    private protected ContrastiveTrainer(string outputFolder, ContrastiveTrainingOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        options.Validate();
        this.options = options;
        OutputFolder = Path.GetFullPath(outputFolder);
        checkpoints = new CheckpointStore(OutputFolder, options.KeepCheckpoints);
    }

    public string OutputFolder { get; }

    /// <summary>"clip" or "alpha-clip".</summary>
    public abstract string Stage { get; }

    /// <summary>Steps done so far (the checkpoint's step after a resume).</summary>
    public int Step => step;

    /// <summary>Trainable tensors, for inspection: name, parameter, learning-rate multiplier, weight decay.</summary>
    public IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter, double LrMultiplier, double WeightDecay)> TrainableParameters =>
        Optimizer.Parameters.Select(p => (p.Name, p.Parameter, p.LrMultiplier, p.WeightDecay)).ToList();

    private protected MasterWeightAdamW Optimizer => optimizer ?? throw new InvalidOperationException("trainer not initialised");

    private protected ScalarType ComputeDType => options.Precision == TrainingPrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>Builds the optimizer and, when the folder holds a run of the same settings, restores its newest checkpoint.</summary>
    private protected void Initialise(IEnumerable<TrainableParameter> trainable, JsonObject runInfo)
    {
        optimizer = new MasterWeightAdamW(trainable);
        Directory.CreateDirectory(OutputFolder);
        RunSettingsFile.WriteOrCheck(Path.Combine(OutputFolder, RunFile), options.TrainingKey(), runInfo);
        if (checkpoints.RestoreLatest(Optimizer) is { } restored)
        {
            AfterUpdate();
            step = restored;
            resumedFrom = restored;
        }
    }

    /// <summary>
    /// Trains from the current step to <see cref="ContrastiveTrainingOptions.Steps"/> (or StopAtStep), checkpointing as
    /// configured; on cancellation it checkpoints the last finished step and returns. The towers are written at the end.
    /// </summary>
    public TrainingResult Run(Action<TrainingProgress>? onProgress = null, CancellationToken cancellation = default)
    {
        torch.set_num_threads(options.Threads);
        var cadence = new TrainingCadence(options.Steps, Math.Min(options.StopAtStep ?? options.Steps, options.Steps),
            options.CheckpointEvery, options.EvalEvery, options.EvalScenes, options.LearningRateAt);
        var outcome = new TrainingLoop<ZeroShotReport>(Stage, OutputFolder, cadence)
        {
            TrainStep = (next, lr) => Optimizer.TrainStep(() => ComputeLoss(next), lr, AfterUpdate),
            Evaluate = Evaluate,
            EvalLogFields = eval =>
            {
                var fields = eval.ToJson();
                fields["split"] = "validation";
                return fields;
            },
            SaveCheckpoint = SaveCheckpoint,
            StepLogFields = line => line["logit_scale"] = Math.Round(CurrentLogitScale, 4),
            StepFinished = (done, eval) =>
            {
                step = done.Step;
                onProgress?.Invoke(new TrainingProgress(Stage, done.Step, options.Steps, done.Loss, done.Accuracy, done.LearningRate,
                    CurrentLogitScale, done.Seconds, done.Elapsed, eval));
            },
        }.Run(step, cancellation);
        step = outcome.Step;
        WriteTowers(new JsonObject { ["stage"] = Stage, ["step"] = step, ["steps"] = options.Steps });
        return new TrainingResult(OutputFolder, step, options.Steps, step >= options.Steps, resumedFrom, outcome.LastLoss, outcome.LastEval);
    }

    /// <summary>The loss of a step's batch with the current weights, without autograd or update (diagnostics, tests).</summary>
    public double BatchLoss(int step)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "steps are 1-based");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return ComputeLoss(step).Loss.ToDouble();
    }

    /// <summary>Zero-shot evaluation on the first <paramref name="scenes"/> validation scenes.</summary>
    public abstract ZeroShotReport Evaluate(int scenes);

    /// <summary>The logit scale the loss uses now (exp of the learned log scale, or the fixed value).</summary>
    public abstract double CurrentLogitScale { get; }

    /// <summary>Builds the batch of a (1-based) step and returns the loss (with autograd) and in-batch image→text accuracy.</summary>
    private protected abstract (Tensor Loss, Tensor Accuracy) ComputeLoss(int step);

    /// <summary>Called after every update and after a restore (e.g. to clamp the logit scale).</summary>
    private protected virtual void AfterUpdate() { }

    private protected abstract void WriteTowers(JsonObject notes);

    /// <summary>CLIP's convention: matrices decay, biases / norms / embeddings / scalars do not.</summary>
    private protected static double DecayFor(string name, Tensor t, double weightDecay) =>
        t.dim() >= 2 && !name.Contains("embedding", StringComparison.Ordinal) ? weightDecay : 0;

    void SaveCheckpoint(int at) => checkpoints.Save(at, Optimizer, new JsonObject
    {
        ["stage"] = Stage, ["step"] = at, ["seed"] = options.Seed,
        ["data"] = "training scenes and coin flips are a pure function of (seed, step): resuming needs only the step",
    });

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) optimizer?.Dispose();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
