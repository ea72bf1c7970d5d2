namespace RegionChat.Training.Pipeline;

/// <summary>One step of any stage, as the progress display shows it.</summary>
/// <param name="Accuracy">The stage's batch metric: token accuracy (LLaVA stages) or in-batch image→text accuracy (CLIP stages).</param>
/// <param name="Eval">A one-line summary when the step ran an evaluation.</param>
public sealed record ShapesPipelineProgress(ShapesStage Stage, int Step, int Steps, double Loss, double Accuracy, double StepSeconds,
    TimeSpan Elapsed, string? Eval);

/// <summary>How one stage of a pipeline run ended.</summary>
public sealed record ShapesStageResult(ShapesStage Stage, string Folder, int Step, int Steps, bool Completed, int? ResumedFrom,
    double? LastLoss, TimeSpan Elapsed, string? Summary);
