using RegionChat.TestSupport;
using RegionChat.Training.Llava;
using RegionChat.Training.Pipeline;
using RegionChat.Training.Tests.Clip;

namespace RegionChat.Training.Tests.Llava;

/// <summary>A run stopped at a checkpoint and resumed ends bit for bit where an uninterrupted run ends.</summary>
[Collection(TorchStateCollection.Name)]
public class ResumeTests
{
    static readonly ShapesRecipe Smoke = ShapesRecipe.Smoke(seed: 7, threads: 1);
    static LlmPretrainOptions Llm(int steps) => Smoke.Llm with { Steps = steps, WarmupSteps = 1, EvalScenes = 0 };
    static ProjectorAlignOptions Projector(int steps) => Smoke.Projector with { Steps = steps, WarmupSteps = 1, EvalScenes = 0 };
    static InstructionTuneOptions Instruct(int steps) => Smoke.Instruct with { Steps = steps, WarmupSteps = 1, EvalScenes = 0 };

    [Fact]
    public void LlmPretrainingResumesExactly()
    {
        using var dir = new TempDir();
        string whole = Path.Combine(dir.Path, "whole"), split = Path.Combine(dir.Path, "split");
        using (var t = new LlmPretrainer(whole, Llm(6))) Assert.True(t.Run().Completed);
        using (var t = new LlmPretrainer(split, Llm(6) with { StopAtStep = 3 })) Assert.False(t.Run().Completed);
        using (var t = new LlmPretrainer(split, Llm(6)))
        {
            Assert.Equal(3, t.Step);
            var result = t.Run();
            Assert.Equal(3, result.ResumedFrom);
            Assert.True(result.Completed);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, ShapesModelFiles.Llm)), File.ReadAllBytes(Path.Combine(split, ShapesModelFiles.Llm)));
        Assert.Equal(6, File.ReadLines(Path.Combine(split, "log.jsonl")).Count(l => l.Contains("\"step\"", StringComparison.Ordinal)));
    }

    [Fact]
    public void ProjectorAndInstructionTuningResumeExactly()
    {
        using var dir = new TempDir();
        string llm = Path.Combine(dir.Path, "llm"), vision = Path.Combine(dir.Path, "vision");
        using (var t = new LlmPretrainer(llm, Llm(2))) t.Run();
        RandomVisionTower.Ensure(vision, Smoke.RandomVision, 3);

        string projectorWhole = Path.Combine(dir.Path, "p-whole"), projectorSplit = Path.Combine(dir.Path, "p-split");
        using (var t = new ProjectorAligner(projectorWhole, Projector(4), vision, llm)) t.Run();
        using (var t = new ProjectorAligner(projectorSplit, Projector(4) with { StopAtStep = 2 }, vision, llm)) t.Run();
        using (var t = new ProjectorAligner(projectorSplit, Projector(4), null, null)) Assert.Equal(2, t.Run().ResumedFrom);
        AssertSameFile(projectorWhole, projectorSplit, ShapesModelFiles.Projector);

        string whole = Path.Combine(dir.Path, "i-whole"), split = Path.Combine(dir.Path, "i-split");
        using (var t = new InstructionTuner(whole, Instruct(4), projectorWhole)) t.Run();
        using (var t = new InstructionTuner(split, Instruct(4) with { StopAtStep = 1 }, projectorWhole)) t.Run();
        using (var t = new InstructionTuner(split, Instruct(4), null)) Assert.Equal(1, t.Run().ResumedFrom);
        AssertSameFile(whole, split, ShapesModelFiles.Projector);
        AssertSameFile(whole, split, ShapesModelFiles.Llm);
        Assert.True(LlavaTrainer.IsComplete(split));
    }

    [Fact]
    public void ResumingWithOtherSettingsIsRefused()
    {
        using var dir = new TempDir();
        using (var t = new LlmPretrainer(dir.Path, Llm(3) with { StopAtStep = 1 })) t.Run();
        var e = Assert.Throws<ArgumentException>(() => new LlmPretrainer(dir.Path, Llm(3) with { LearningRate = 0.5 }));
        Assert.Contains("learning_rate", e.Message);
    }

    static void AssertSameFile(string a, string b, string name) =>
        Assert.True(File.ReadAllBytes(Path.Combine(a, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, name))), $"{name} differs");
}
