using RegionChat.Data.Shapes;

namespace RegionChat.Training.Evaluation;

/// <summary>What `regionchat eval shapes` measures and how hard it drives the machine.</summary>
public sealed record ShapesEvalOptions
{
    /// <summary>Scenes of seeds FirstSeed .. FirstSeed+Scenes−1.</summary>
    public int Scenes { get; init; } = 500;

    /// <summary>The first scene seed; default the first test seed (every seed from there up is unseen by training).</summary>
    public long FirstSeed { get; init; } = ShapesSeeds.TestStart;

    /// <summary>CPU threads for llama.cpp and TorchSharp.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Generations decoded together by the engine (its sequences).</summary>
    public int Parallel { get; init; } = 32;

    /// <summary>Most tokens per answer. The longest right answer of the shapes world is a region caption of a few
    /// tokens; a longer answer is wrong whatever follows, so the cap changes no exact match.</summary>
    public int MaxTokens { get; init; } = 24;

    /// <summary>Images per vision forward.</summary>
    public int VisionBatch { get; init; } = 64;

    /// <summary>Visual tokens kept per image in every generation (the model's VisualTokenBudget); 0 = all.</summary>
    public int VisualTokenBudget { get; init; }

    /// <summary>Throws ArgumentOutOfRangeException naming the first bad field.</summary>
    public void Validate()
    {
        Check(Scenes, 1, 100_000, nameof(Scenes), "--scenes");
        Check(Threads, 1, 1024, nameof(Threads), "--threads");
        Check(Parallel, 1, 256, nameof(Parallel), "--parallel");
        Check(MaxTokens, 1, 1024, nameof(MaxTokens), "--max-tokens");
        Check(VisionBatch, 1, 4096, nameof(VisionBatch), "--vision-batch");
        Check(VisualTokenBudget, 0, Inference.VisualTokenSelection.MaxBudget, nameof(VisualTokenBudget), "--visual-token-budget");
        if (FirstSeed < 0) throw new ArgumentOutOfRangeException(nameof(FirstSeed), FirstSeed, $"--seed must be ≥ 0, got {FirstSeed}");
        if (FirstSeed > long.MaxValue - Scenes)
            throw new ArgumentOutOfRangeException(nameof(FirstSeed), FirstSeed, $"--seed {FirstSeed} + {Scenes} scenes overflows the seed range");
    }

    static void Check(int value, int min, int max, string name, string flag)
    {
        if (value < min || value > max) throw new ArgumentOutOfRangeException(name, value, $"{flag} must be in {min}..{max}, got {value}");
    }
}
