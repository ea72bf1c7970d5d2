using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Training.Clip.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// The training loop of the LLaVA stages: deterministic batches (a pure function of seed and step), AdamW, log.jsonl,
/// evaluation, checkpoints and exact resume.
/// <para>Stage folder: <c>run.json</c> (stage and training settings; a resume must match them), <c>init/</c> (copies of
/// the inputs the stage starts from, so a resumed run never depends on another folder), <c>log.jsonl</c>,
/// <c>checkpoints/step-NNNNNNNN/</c> (trained tensors as "param.NAME", AdamW moments), the stage's outputs (written
/// whenever a run ends) and <c>result.json</c> (step reached, whether the stage is complete).</para>
/// </summary>
public abstract class LlavaTrainer : IDisposable
{
    public const string RunFile = "run.json", ResultFile = "result.json", InitFolder = "init";

    readonly LlavaTrainingOptions options;
    readonly CheckpointStore checkpoints;
    MasterWeightAdamW? optimizer;
    int step;
    int? resumedFrom;

    private protected LlavaTrainer(string outputFolder, LlavaTrainingOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        OutputFolder = Path.GetFullPath(outputFolder);
        checkpoints = new CheckpointStore(OutputFolder, options.KeepCheckpoints);
        torch.set_num_threads(options.Threads);
    }

    public string OutputFolder { get; }

    /// <summary>"llm", "projector" or "instruct".</summary>
    public abstract string Stage { get; }

    /// <summary>Steps done so far (the checkpoint's step after a resume).</summary>
    public int Step => step;

    /// <summary>The trained tensors by checkpoint name.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters =>
        Optimizer.Parameters.Select(p => (p.Name, p.Parameter)).ToList();

    private protected MasterWeightAdamW Optimizer => optimizer ?? throw new InvalidOperationException("trainer not initialised");

    private protected string InitPath(string file) => Path.Combine(OutputFolder, InitFolder, file);

    /// <summary>True when <paramref name="folder"/> holds a finished run of its stage (result.json says completed).</summary>
    public static bool IsComplete(string folder)
    {
        string path = Path.Combine(folder, ResultFile);
        if (!File.Exists(path)) return false;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?["completed"]?.GetValue<bool>() == true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Copies the stage's input files into init/ (once: a resumed run keeps the copies it started with). The copy is
    /// made in a ".partial" folder and renamed, so a run killed while copying starts over cleanly.
    /// </summary>
    private protected void PrepareInit(IReadOnlyList<(string Source, string Name)> files)
    {
        string init = Path.Combine(OutputFolder, InitFolder);
        if (Directory.Exists(init)) return;
        foreach (var (source, _) in files)
            if (!File.Exists(source)) throw new FileNotFoundException($"{Stage}: input file not found: {source}", source);
        string partial = init + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        foreach (var (source, name) in files) File.Copy(source, Path.Combine(partial, name));
        Directory.Move(partial, init);
    }

    /// <summary>Builds the optimizer and, when the folder holds a run of the same settings, restores its newest checkpoint.</summary>
    private protected void Initialise(IEnumerable<TrainableParameter> trainable, JsonObject runInfo)
    {
        optimizer = new MasterWeightAdamW(trainable, beta1: 0.9, beta2: 0.98, eps: 1e-8);
        Directory.CreateDirectory(OutputFolder);
        var key = options.TrainingKey();
        key["stage"] = Stage;
        runInfo["stage"] = Stage;
        RunSettingsFile.WriteOrCheck(Path.Combine(OutputFolder, RunFile), key, runInfo);
        if (checkpoints.RestoreLatest(Optimizer) is { } restored)
        {
            step = restored;
            resumedFrom = restored;
        }
    }

    /// <summary>
    /// Trains from the current step to Steps (or StopAtStep), checkpointing as configured; on cancellation it
    /// checkpoints the last finished step and returns. The outputs and result.json are written at the end.
    /// </summary>
    public LlavaTrainingResult Run(Action<LlavaTrainingProgress>? onProgress = null, CancellationToken cancellation = default)
    {
        torch.set_num_threads(options.Threads);
        var cadence = new TrainingCadence(options.Steps, Math.Min(options.StopAtStep ?? options.Steps, options.Steps),
            options.CheckpointEvery, options.EvalEvery, options.EvalScenes, options.LearningRateAt);
        var outcome = new TrainingLoop<JsonObject>(Stage, OutputFolder, cadence)
        {
            TrainStep = (next, lr) => Optimizer.TrainStep(() => ComputeLoss(next), lr, null),
            Evaluate = Evaluate,
            EvalLogFields = eval => (JsonObject)eval.DeepClone(),
            SaveCheckpoint = SaveCheckpoint,
            StepFinished = (done, eval) =>
            {
                step = done.Step;
                onProgress?.Invoke(new LlavaTrainingProgress(Stage, done.Step, options.Steps, done.Loss, done.Accuracy, done.LearningRate,
                    done.Seconds, done.Elapsed, eval));
            },
        }.Run(step, cancellation);
        step = outcome.Step;
        bool completed = step >= options.Steps;
        WriteOutputs(new JsonObject { ["stage"] = Stage, ["step"] = step, ["steps"] = options.Steps });
        var result = new JsonObject
        {
            ["stage"] = Stage, ["step"] = step, ["steps"] = options.Steps, ["completed"] = completed,
            ["last_loss"] = outcome.LastLoss, ["seconds_this_run"] = Math.Round(outcome.Elapsed.TotalSeconds, 2),
        };
        if (outcome.LastEval != null) result["last_eval"] = outcome.LastEval.DeepClone();
        File.WriteAllText(Path.Combine(OutputFolder, ResultFile), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new LlavaTrainingResult(Stage, OutputFolder, step, options.Steps, completed, resumedFrom, outcome.LastLoss, outcome.Elapsed,
            outcome.LastEval);
    }

    /// <summary>The loss of a step's batch with the current weights, without autograd or update (diagnostics, tests).</summary>
    public double BatchLoss(int step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return ComputeLoss(step).Loss.ToDouble();
    }

    /// <summary>Builds the batch of a (1-based) step; returns the loss (with autograd) and the token accuracy.</summary>
    private protected abstract (Tensor Loss, Tensor Accuracy) ComputeLoss(int step);

    /// <summary>Evaluation on the first <paramref name="scenes"/> validation scenes (null: the stage has none).</summary>
    public virtual JsonObject? Evaluate(int scenes) => null;

    /// <summary>Writes the stage's outputs (trained weights in their final formats).</summary>
    private protected abstract void WriteOutputs(JsonObject notes);

    /// <summary>Weight matrices decay; norms, biases and embedding tables do not.</summary>
    private protected static double DecayFor(string name, Tensor t, double weightDecay) =>
        t.dim() >= 2 && !name.Contains("embd", StringComparison.Ordinal) && !name.Contains("embedding", StringComparison.Ordinal) ? weightDecay : 0;

    void SaveCheckpoint(int at) => checkpoints.Save(at, Optimizer, new JsonObject
    {
        ["stage"] = Stage, ["step"] = at, ["seed"] = options.Seed,
        ["data"] = "batches are a pure function of (seed, step): resuming needs only the step",
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
