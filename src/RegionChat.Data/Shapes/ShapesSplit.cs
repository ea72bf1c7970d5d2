namespace RegionChat.Data.Shapes;

/// <summary>Which part of the seed space a scene comes from.</summary>
public enum ShapesSplit { Train, Validation, Test }

/// <summary>
/// The seed ranges of the splits, which never overlap: train [0, 900,000,000), validation [900,000,000, 1,000,000,000),
/// test [1,000,000,000, long.MaxValue). Nothing trains on a seed of 1e9 or more: that is unseen test data forever.
/// </summary>
public static class ShapesSeeds
{
    public const long TrainStart = 0;
    public const long ValidationStart = 900_000_000;
    public const long TestStart = 1_000_000_000;
    public const long TestEnd = long.MaxValue;

    /// <summary>[First, EndExclusive) of a split.</summary>
    public static (long First, long EndExclusive) Range(ShapesSplit split) => split switch
    {
        ShapesSplit.Train => (TrainStart, ValidationStart),
        ShapesSplit.Validation => (ValidationStart, TestStart),
        ShapesSplit.Test => (TestStart, TestEnd),
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "not a split"),
    };

    public static ShapesSplit SplitOf(long seed)
    {
        if (seed < 0 || seed >= TestEnd)
            throw new ArgumentOutOfRangeException(nameof(seed), seed, $"seed {seed} is not a shapes seed: seeds lie in [0, {TestEnd})");
        return seed < ValidationStart ? ShapesSplit.Train : seed < TestStart ? ShapesSplit.Validation : ShapesSplit.Test;
    }

    public static bool Contains(ShapesSplit split, long seed)
    {
        var (first, end) = Range(split);
        return seed >= first && seed < end;
    }

    /// <summary>Throws a clear ArgumentOutOfRangeException unless every seed of [first, first+count) is in the split.</summary>
    public static void Require(ShapesSplit split, long first, long count = 1)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1");
        var (start, end) = Range(split);
        if (first < start || first >= end || count > end - first)
        {
            string what = count == 1 ? $"seed {first}" : $"seeds [{first}, {first}+{count})";
            throw new ArgumentOutOfRangeException(nameof(first), first,
                $"{what} not in the {split.ToString().ToLowerInvariant()} split [{start}, {end})");
        }
    }

    /// <summary>The index-th seed of a split (index 0 is the split's first seed).</summary>
    public static long SeedAt(ShapesSplit split, long index)
    {
        var (start, end) = Range(split);
        if (index < 0 || index >= end - start)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the {split} split holds {end - start} seeds");
        return start + index;
    }
}
