namespace RegionChat.Data.Shapes.Internal;

/// <summary>
/// xoshiro256** seeded through SplitMix64: our own generator so that a seed names the same scene forever
/// (System.Random's algorithm is not a stable contract).
/// </summary>
internal sealed class ShapesRandom
{
    ulong s0, s1, s2, s3;

    ShapesRandom(ref ulong splitMixState)
    {
        s0 = SplitMix64(ref splitMixState);
        s1 = SplitMix64(ref splitMixState);
        s2 = SplitMix64(ref splitMixState);
        s3 = SplitMix64(ref splitMixState);
    }

    /// <summary>
    /// The two streams of a scene: SplitMix64 starts at the seed; its first four outputs seed the layout stream and the
    /// next four the pixel-noise stream, so the layout never depends on how much noise was drawn.
    /// </summary>
    public static (ShapesRandom Layout, ShapesRandom Noise) ForScene(long seed)
    {
        ulong state = unchecked((ulong)seed);
        var layout = new ShapesRandom(ref state);
        var noise = new ShapesRandom(ref state);
        return (layout, noise);
    }

    ShapesRandom(ulong s0, ulong s1, ulong s2, ulong s3) => (this.s0, this.s1, this.s2, this.s3) = (s0, s1, s2, s3);

    /// <summary>A generator in a given raw state (to check against the reference xoshiro256** outputs).</summary>
    public static ShapesRandom FromState(ulong s0, ulong s1, ulong s2, ulong s3) => new(s0, s1, s2, s3);

    /// <summary>A generator over one SplitMix64-expanded seed (for tests and helpers that need a plain stream).</summary>
    public static ShapesRandom FromSeed(ulong seed) => new(ref seed);

    public static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>
    /// Uniform integer in [min, max] inclusive, unbiased (Lemire's multiply-shift with rejection): with n = max-min+1,
    /// the 128-bit product x·n of a draw x is rejected while its low half is below 2^64 mod n; the high half is the value.
    /// </summary>
    public int NextInt(int min, int max)
    {
        if (max < min) throw new ArgumentOutOfRangeException(nameof(max), $"empty range [{min}, {max}]");
        ulong n = (ulong)((long)max - min + 1);
        ulong high = Math.BigMul(NextUInt64(), n, out ulong low);
        if (low < n)
        {
            ulong threshold = (0UL - n) % n;
            while (low < threshold) high = Math.BigMul(NextUInt64(), n, out low);
        }
        return (int)((long)min + (long)high);
    }
}
