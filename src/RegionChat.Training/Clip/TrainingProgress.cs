namespace RegionChat.Training.Clip;

/// <summary>Reported after every optimizer step (with <see cref="Eval"/> set on evaluation steps).</summary>
public sealed record TrainingProgress(
    string Stage, int Step, int Steps, double Loss, double Accuracy, double LearningRate, double LogitScale,
    double StepSeconds, TimeSpan Elapsed, ZeroShotReport? Eval);

/// <summary>How a <see cref="ContrastiveTrainer.Run"/> ended.</summary>
/// <param name="Completed">True when the run reached its last step (false: stopped early or cancelled, resumable).</param>
/// <param name="ResumedFrom">The checkpoint step this invocation started from (null: a fresh run).</param>
public sealed record TrainingResult(string OutputFolder, int Step, int Steps, bool Completed, int? ResumedFrom,
    double? LastLoss, ZeroShotReport? LastEval);
