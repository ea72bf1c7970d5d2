using TorchSharp;
using RegionChat.Training.Clip;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Clip;

/// <summary>CI-sized settings: 64 px, patch 16, width 32, one block each side, 8 fixed train scenes, one thread.</summary>
internal static class TinyRuns
{
    public static ClipTrainerOptions Clip(int steps) => new()
    {
        Vision = new AlphaClipConfig(64, 16, 32, 1, 2, 32),
        Text = ClipTextConfig.ForShapes(32, 1, 2, 32),
        Steps = steps, BatchSize = 8, LearningRate = 4e-3, WarmupSteps = Math.Min(3, steps), ScenePool = 8, Seed = 3,
        Threads = 1, CheckpointEvery = 1000, EvalScenes = 0,
        SingleObjectFraction = 0,   // a batch of 8 from the pool of 8: each scene once
    };

    public static AlphaClipTrainerOptions Alpha(int steps) => new()
    {
        Steps = steps, BatchSize = 16, LearningRate = 1e-3, WarmupSteps = Math.Min(3, steps), ScenePool = 8, Seed = 5,
        Threads = 1, CheckpointEvery = 1000, EvalScenes = 0,
    };

    /// <summary>A stage-1 folder from a few steps of <see cref="Clip"/>.</summary>
    public static void TrainStage1(string folder, int steps = 3)
    {
        using var trainer = new ClipTrainer(folder, Clip(steps));
        trainer.Run();
    }

    /// <summary>Every tensor of two safetensors files is bitwise equal.</summary>
    public static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var expected = StateDictFile.ReadSafetensors(expectedPath);
        var actual = StateDictFile.ReadSafetensors(actualPath);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, t) in expected)
        {
            Assert.Equal(t.shape, actual[name].shape);
            Assert.True(t.equal(actual[name]).all().ToBoolean(), $"{Path.GetFileName(actualPath)}: '{name}' differs");
        }
    }

    public static double Mean(IEnumerable<double> values) => values.Average();

    public static Tensor AlphaConv(AlphaClipVisionTransformer vision) =>
        vision.named_parameters().Single(p => p.name == AlphaClipCheckpoint.AlphaConvKey).parameter;
}
