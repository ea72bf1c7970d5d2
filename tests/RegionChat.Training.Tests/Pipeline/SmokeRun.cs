using RegionChat.TestSupport;
using RegionChat.Training.Pipeline;

namespace RegionChat.Training.Tests.Pipeline;

/// <summary>One CI-sized `train shapes --smoke` run (every stage, tiny models, 8 fixed scenes, one thread), shared by a test class.</summary>
public sealed class SmokeRun : IDisposable
{
    readonly TempDir dir = new();

    public SmokeRun()
    {
        Recipe = ShapesRecipe.Smoke(seed: 1, threads: 1);
        Pipeline = new ShapesTrainingPipeline(dir.Path, Recipe);
        Pipeline.Message += Messages.Add;
        Results = Pipeline.Run(ShapesStage.All);
    }

    public ShapesRecipe Recipe { get; }
    public ShapesTrainingPipeline Pipeline { get; }
    public IReadOnlyList<ShapesStageResult> Results { get; }
    public List<string> Messages { get; } = [];
    public ShapesRunLayout Layout => Pipeline.Layout;

    public void Dispose() => dir.Dispose();
}
