namespace RegionChat.Training.Evaluation;

/// <summary>How far an evaluation is: <see cref="Done"/> of <see cref="Total"/> in <see cref="Phase"/>
/// ("answers", then "zero-shot").</summary>
public readonly record struct ShapesEvalProgress(string Phase, int Done, int Total, TimeSpan Elapsed);
