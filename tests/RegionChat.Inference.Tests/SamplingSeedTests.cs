namespace RegionChat.Inference.Tests;

/// <summary>The API's 64-bit seeds reach the 32-bit sampler seed folded, not cut: seeds that differ only in their high
/// half still draw differently, and seeds below 2^32 are taken as they are.</summary>
public class SamplingSeedTests
{
    static int? EngineSeed(ulong? seed)
    {
        var violations = new List<string>();
        var resolved = new SamplingOptions { Seed = seed }.Resolve(new RegionChatCoreOptions(), (field, _) => violations.Add(field));
        Assert.Empty(violations);
        return resolved.Seed;
    }

    [Fact]
    public void SeedsThatDifferOnlyAboveBit32StillDiffer()
    {
        Assert.Equal(5, EngineSeed(5));
        Assert.Equal(unchecked((int)0xFFFF_FFFFu), EngineSeed(0xFFFF_FFFFu));
        var seeds = new ulong[] { 5, 5 + (1UL << 32), 5 + (2UL << 32), 5 + (1UL << 63) }.Select(s => EngineSeed(s)).ToArray();
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
        Assert.Null(EngineSeed(null));
    }
}
