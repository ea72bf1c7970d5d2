namespace RegionChat.Data.Shapes;

/// <summary>One question and its answer, in the exact text forms of <see cref="ShapesText"/>.</summary>
public sealed record ShapesQa(string Question, string Answer);
