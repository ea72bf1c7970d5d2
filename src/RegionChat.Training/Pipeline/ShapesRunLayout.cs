namespace RegionChat.Training.Pipeline;

/// <summary>
/// The folders of a `train shapes` output directory: one per stage (clip/, alpha/, llm/, projector/, instruct/, chat/),
/// vision-random/ (a seeded random tower, used only when no trained one is given or available) and model/ (the export).
/// </summary>
public sealed class ShapesRunLayout(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Clip => Path.Combine(Root, "clip");
    public string Alpha => Path.Combine(Root, "alpha");
    public string Llm => Path.Combine(Root, "llm");
    public string Projector => Path.Combine(Root, "projector");
    public string Instruct => Path.Combine(Root, "instruct");
    public string Chat => Path.Combine(Root, "chat");
    public string RandomVision => Path.Combine(Root, "vision-random");
    public string Model => Path.Combine(Root, "model");

    public string For(ShapesStage stage) => stage switch
    {
        ShapesStage.Clip => Clip,
        ShapesStage.Alpha => Alpha,
        ShapesStage.Llm => Llm,
        ShapesStage.Projector => Projector,
        ShapesStage.Instruct => Instruct,
        ShapesStage.Chat => Chat,
        ShapesStage.Export => Model,
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "not a single stage"),
    };
}
