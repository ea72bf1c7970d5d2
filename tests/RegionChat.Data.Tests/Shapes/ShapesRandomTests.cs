using RegionChat.Data.Shapes.Internal;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesRandomTests
{
    [Fact]
    public void SplitMix64_matches_the_reference_sequence_from_zero()
    {
        // Outputs of the reference splitmix64.c (Vigna) started at state 0.
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, ShapesRandom.SplitMix64(ref state));
        Assert.Equal(0x6E789E6AA1B965F4UL, ShapesRandom.SplitMix64(ref state));
        Assert.Equal(0x06C45D188009454FUL, ShapesRandom.SplitMix64(ref state));
    }

    [Fact]
    public void Xoshiro256StarStar_matches_the_reference_outputs_from_state_1_2_3_4()
    {
        var r = ShapesRandom.FromState(1, 2, 3, 4);
        Assert.Equal(11520UL, r.NextUInt64());
        Assert.Equal(0UL, r.NextUInt64());
        Assert.Equal(1509978240UL, r.NextUInt64());
        Assert.Equal(1215971899390074240UL, r.NextUInt64());
    }

    [Fact]
    public void NextInt_covers_its_inclusive_range_uniformly()
    {
        var r = ShapesRandom.FromSeed(42);
        var counts = new int[25];
        const int draws = 250_000;
        for (int i = 0; i < draws; i++)
        {
            int v = r.NextInt(-12, 12);
            Assert.InRange(v, -12, 12);
            counts[v + 12]++;
        }
        // expected 10,000 per value, sd ≈ 98: a 5-sd band
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
    }

    [Fact]
    public void NextInt_handles_one_value_and_rejects_an_empty_range()
    {
        var r = ShapesRandom.FromSeed(1);
        Assert.Equal(7, r.NextInt(7, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.NextInt(3, 2));
    }

    [Fact]
    public void Scene_streams_depend_on_the_seed()
    {
        var (a, _) = ShapesRandom.ForScene(5);
        var (b, _) = ShapesRandom.ForScene(5);
        var (c, _) = ShapesRandom.ForScene(6);
        ulong a1 = a.NextUInt64();
        Assert.Equal(a1, b.NextUInt64());
        Assert.NotEqual(a1, c.NextUInt64());
    }
}
