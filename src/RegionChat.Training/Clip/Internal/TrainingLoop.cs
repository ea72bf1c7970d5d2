using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RegionChat.Training.Clip.Internal;

/// <summary>When a run stops and when it evaluates and checkpoints (the options both trainer families share).</summary>
internal sealed record TrainingCadence(int Steps, int StopAt, int CheckpointEvery, int EvalEvery, int EvalScenes, Func<int, double> LearningRateAt);

/// <summary>One finished optimizer step, as the loop hands it to its trainer.</summary>
internal readonly record struct FinishedStep(int Step, double Loss, double Accuracy, double LearningRate, double Seconds, TimeSpan Elapsed);

/// <summary>How a loop ended: the step reached, the last loss and evaluation, and the time this invocation took.</summary>
internal sealed record TrainingLoopOutcome<TEval>(int Step, double? LastLoss, TEval? LastEval, TimeSpan Elapsed) where TEval : class;

/// <summary>
/// The loop both trainer families run: steps to the cadence's stop, a non-finite loss stops the run naming the last
/// checkpoint, a log.jsonl line per step and evaluation, checkpoints at their interval, at the stop and on cancellation.
/// The trainer supplies the step, the evaluation and the checkpoint; the loop owns the order they happen in.
/// </summary>
internal sealed class TrainingLoop<TEval>(string stage, string outputFolder, TrainingCadence cadence) where TEval : class
{
    /// <summary>Runs the (1-based) step at the learning rate; returns its loss and accuracy.</summary>
    public required Func<int, double, (double Loss, double Accuracy)> TrainStep { get; init; }

    /// <summary>Evaluates on that many validation scenes (null: the stage has no evaluation).</summary>
    public required Func<int, TEval?> Evaluate { get; init; }

    /// <summary>The evaluation's fields for its log line ("type" and "step" are added).</summary>
    public required Func<TEval, JsonObject> EvalLogFields { get; init; }

    /// <summary>Saves the checkpoint of the given step.</summary>
    public required Action<int> SaveCheckpoint { get; init; }

    /// <summary>Adds the stage's own fields to a step's log line (before "seconds").</summary>
    public Action<JsonObject>? StepLogFields { get; init; }

    /// <summary>Called after each step is logged, evaluated and checkpointed (evaluation null on the other steps).</summary>
    public Action<FinishedStep, TEval?>? StepFinished { get; init; }

    public TrainingLoopOutcome<TEval> Run(int fromStep, CancellationToken cancellation)
    {
        int step = fromStep, lastCheckpoint = fromStep;
        double? lastLoss = null;
        TEval? lastEval = null;
        var clock = Stopwatch.StartNew();
        using (var log = new TrainingLog(outputFolder, step))
        {
            while (step < cadence.StopAt && !cancellation.IsCancellationRequested)
            {
                int next = step + 1;
                double lr = cadence.LearningRateAt(next);
                var stepClock = Stopwatch.StartNew();
                var (loss, accuracy) = TrainStep(next, lr);
                if (!double.IsFinite(loss))
                    throw new InvalidOperationException($"{stage}: loss became {loss} at step {next}; lower the learning rate and " +
                                                        $"resume from the last checkpoint (step {lastCheckpoint})");
                step = next;
                double seconds = stepClock.Elapsed.TotalSeconds;
                lastLoss = loss;
                var line = new JsonObject
                {
                    ["type"] = "step", ["step"] = step, ["loss"] = Math.Round(loss, 6), ["accuracy"] = Math.Round(accuracy, 6), ["lr"] = lr,
                };
                StepLogFields?.Invoke(line);
                line["seconds"] = Math.Round(seconds, 4);
                log.Write(line);
                TEval? eval = null;
                if (IsEvalStep(step) && Evaluate(cadence.EvalScenes) is { } done)
                {
                    eval = lastEval = done;
                    var entry = EvalLogFields(done);
                    entry["type"] = "eval";
                    entry["step"] = step;
                    log.Write(entry);
                }
                if (step % cadence.CheckpointEvery == 0 || step == cadence.StopAt)
                {
                    SaveCheckpoint(step);
                    lastCheckpoint = step;
                }
                StepFinished?.Invoke(new FinishedStep(step, loss, accuracy, lr, seconds, clock.Elapsed), eval);
            }
        }
        if (step > lastCheckpoint) SaveCheckpoint(step);
        return new TrainingLoopOutcome<TEval>(step, lastLoss, lastEval, clock.Elapsed);
    }

    bool IsEvalStep(int step) =>
        cadence.EvalScenes > 0 && ((cadence.EvalEvery > 0 && step % cadence.EvalEvery == 0) || step == cadence.Steps);
}
