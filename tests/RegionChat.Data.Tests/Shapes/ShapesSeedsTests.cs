using RegionChat.Data.Shapes;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesSeedsTests
{
    [Fact]
    public void Splits_are_adjacent_and_disjoint_with_test_from_one_billion()
    {
        var train = ShapesSeeds.Range(ShapesSplit.Train);
        var validation = ShapesSeeds.Range(ShapesSplit.Validation);
        var test = ShapesSeeds.Range(ShapesSplit.Test);
        Assert.Equal(0, train.First);
        Assert.Equal(train.EndExclusive, validation.First);
        Assert.Equal(validation.EndExclusive, test.First);
        Assert.Equal(1_000_000_000, test.First);
        Assert.True(validation.EndExclusive <= 1_000_000_000);
    }

    [Theory]
    [InlineData(0L, ShapesSplit.Train)]
    [InlineData(899_999_999L, ShapesSplit.Train)]
    [InlineData(900_000_000L, ShapesSplit.Validation)]
    [InlineData(999_999_999L, ShapesSplit.Validation)]
    [InlineData(1_000_000_000L, ShapesSplit.Test)]
    [InlineData(9_000_000_000_000L, ShapesSplit.Test)]
    public void SplitOf_places_boundary_seeds(long seed, ShapesSplit split)
    {
        Assert.Equal(split, ShapesSeeds.SplitOf(seed));
        Assert.True(ShapesSeeds.Contains(split, seed));
        foreach (var other in Enum.GetValues<ShapesSplit>().Where(s => s != split))
            Assert.False(ShapesSeeds.Contains(other, seed));
    }

    [Fact]
    public void Require_rejects_training_on_test_seeds_with_a_clear_message()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.Require(ShapesSplit.Train, 1_000_000_000));
        Assert.Contains("train split", e.Message);
        // a run that starts in train but crosses into validation
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.Require(ShapesSplit.Train, 899_999_990, 11));
        ShapesSeeds.Require(ShapesSplit.Train, 899_999_990, 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.Require(ShapesSplit.Test, 1_000_000_000, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.Require(ShapesSplit.Test, long.MaxValue - 1, 2));
    }

    [Fact]
    public void SeedAt_indexes_from_the_split_start()
    {
        Assert.Equal(1_000_000_005, ShapesSeeds.SeedAt(ShapesSplit.Test, 5));
        Assert.Equal(900_000_000, ShapesSeeds.SeedAt(ShapesSplit.Validation, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.SeedAt(ShapesSplit.Validation, 100_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesSeeds.SeedAt(ShapesSplit.Train, -1));
    }
}
