using System.Text.Json.Nodes;

namespace RegionChat.Training.Llava;

/// <summary>Reported after every optimizer step (<see cref="Eval"/> set on evaluation steps).</summary>
public sealed record LlavaTrainingProgress(
    string Stage, int Step, int Steps, double Loss, double Accuracy, double LearningRate, double StepSeconds, TimeSpan Elapsed,
    JsonObject? Eval);

/// <summary>How a LLaVA stage run ended.</summary>
/// <param name="Completed">True when the run reached its last step (false: stopped early or cancelled; resumable).</param>
/// <param name="ResumedFrom">The checkpoint step this invocation started from (null: a fresh run).</param>
public sealed record LlavaTrainingResult(string Stage, string OutputFolder, int Step, int Steps, bool Completed, int? ResumedFrom,
    double? LastLoss, TimeSpan Elapsed, JsonObject? LastEval);
