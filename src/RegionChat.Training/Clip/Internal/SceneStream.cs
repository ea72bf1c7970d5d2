using RegionChat.Data.Shapes;

namespace RegionChat.Training.Clip.Internal;

/// <summary>
/// The training data as a pure function of (run seed, stage, step, index): a resumed run sees exactly the scenes and
/// coin flips an uninterrupted one would, so "the RNG position" of a checkpoint is just its step number.
/// </summary>
internal readonly struct SceneStream(long runSeed, ulong stageSalt, long? scenePool)
{
    /// <summary>
    /// The train seed of the index-th scene of a step. Over the whole train split: uniform and independent. Over a pool
    /// of the first N seeds (a fixed set): a window of consecutive pool seeds from a random offset, so a batch of N
    /// holds each pool scene exactly once.
    /// </summary>
    public long SceneSeed(int step, int index)
    {
        if (scenePool is { } pool)
            return ShapesSeeds.TrainStart + (long)((Hash(step, 0, 0x0FF5E7) % (ulong)pool + (ulong)index) % (ulong)pool);
        return ShapesSeeds.TrainStart + (long)(Hash(step, index, 0x5CE9E5) % (ulong)ShapesSeeds.ValidationStart);   // bias < 2^-33
    }

    /// <summary>A uniform draw in [0, 1) for a per-step decision (salt tells decisions apart).</summary>
    public double Uniform(int step, int index, ulong salt) => (Hash(step, index, salt) >> 11) * (1.0 / (1UL << 53));

    ulong Hash(int step, int index, ulong salt)
    {
        ulong h = Mix((ulong)runSeed ^ stageSalt);
        h = Mix(h + 0x9E3779B97F4A7C15UL * (ulong)(uint)step);
        h = Mix(h + 0xD1B54A32D192ED03UL * (ulong)(uint)index);
        return Mix(h ^ salt);
    }

    // SplitMix64's finaliser: a bijection with full avalanche.
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
