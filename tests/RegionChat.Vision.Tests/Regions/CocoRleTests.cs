using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.Vision.Tests.Regions;

public class CocoRleTests
{
    // 3×4 (h=3, w=4). Read column by column (COCO's Fortran order):
    //   x=0: 0 0 0 | x=1: 1 1 0 | x=2: 1 1 1 | x=3: 0 0 0
    // → 3 zeros, 2 ones, 1 zero, 3 ones, 3 zeros: counts [3,2,1,3,3].
    // Compressed: counts 0..2 as is; count 3 as 3−counts[1] = 1, count 4 as 3−counts[2] = 2. Each is < 16, so one
    // character '0'+value: "3","2","1","1","2".
    static readonly string[] Small = [".##.", ".##.", "..#."];

    [Fact]
    public void HandComputedThreeByFourMask()
    {
        var rle = CocoRle.Encode(MaskText.Parse(Small));
        Assert.Equal([3L, 2, 1, 3, 3], rle.Counts);
        Assert.Equal([3, 4], rle.Size);
        Assert.Equal("32112", rle.ToCompressedString());
        Assert.Equal(MaskText.Rows(Small), MaskText.Of(CocoRle.FromString(3, 4, "32112").Decode()));
    }

    [Fact]
    public void HandComputedMultiCharacterAndNegativeDeltas()
    {
        // 10×10 with counts [3, 40, 2, 5, 50] (ones at Fortran indices 3..42 and 45..49).
        //  3 → '3'.
        // 40 = 0b1_01000: low group 8 with the "more" bit 0x20 → 40+48 = 'X'; then 1 → '1'. "X1".
        //  2 → '2'.
        //  5 − 40 = −35: low 5 bits of −35 are 29 (0b11101), −35 >> 5 = −2 ≠ −1 so more: 29|0x20 = 61 → 'm';
        //     −2: low bits 30 (0b11110, sign bit 0x10 set), −2 >> 5 = −1 → stop: 30+48 = 'N'. "mN".
        // 50 − 2 = 48 = 0b1_10000: low group 16 has the sign bit, 48 >> 5 = 1 ≠ −1 so more: 16|0x20 = 48 → '`'; then '1'. "`1".
        const string compressed = "3X12mN`1";
        var rle = CocoRle.FromString(10, 10, compressed);
        Assert.Equal([3L, 40, 2, 5, 50], rle.Counts);
        Assert.Equal(compressed, rle.ToCompressedString());
        Assert.Equal(MaskText.Rows(
            ".####.....",
            ".####.....",
            ".####.....",
            "####......",
            "####......",
            "#####.....",
            "#####.....",
            "#####.....",
            "#####.....",
            "#####....."), MaskText.Of(rle.Decode()));
    }

    [Theory]
    [InlineData(1, 1, 0)]
    [InlineData(5, 7, 1)]
    [InlineData(20, 33, 2)]
    [InlineData(120, 200, 3)]
    public void RandomMasksRoundTripThroughBothForms(int height, int width, int seed)
    {
        var rnd = new Random(seed);
        var mask = new RegionMask(width, height);
        // Blobs of varied run lengths (long runs need multi-character counts), plus noise.
        for (int b = 0; b < 4; b++)
        {
            int x0 = rnd.Next(width), y0 = rnd.Next(height), x1 = rnd.Next(x0, width + 1), y1 = rnd.Next(y0, height + 1);
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) mask.Data[y * width + x] = 255;
        }
        for (int i = 0; i < mask.Data.Length / 10; i++) mask.Data[rnd.Next(mask.Data.Length)] ^= 255;

        var rle = CocoRle.Encode(mask);
        Assert.Equal((long)width * height, rle.Counts.Sum());
        Assert.Equal(mask.Data, rle.Decode().Data);
        Assert.Equal(mask.Data, CocoRle.FromString(height, width, rle.ToCompressedString()).Decode().Data);
        Assert.Equal(mask.Data, new CocoRle(height, width, rle.Counts).Decode().Data);
    }

    [Fact]
    public void MaskStartingInsideHasAnEmptyFirstRun()
    {
        var rle = CocoRle.Encode(MaskText.Parse("#.", "#."));
        Assert.Equal([0L, 2, 2], rle.Counts);
        Assert.Equal("022", rle.ToCompressedString());
    }

    public static TheoryData<string, string, string> BadCompressed => new()
    {
        { "space", "32 12", "character ' '" },
        { "tilde", "3211~", "character '~'" },
        { "sum too small", "321", "sum to 6" },
        { "sum too large", "32114", "more than 12" },
        { "ends mid-number", "3211X", "middle of a number" },
        { "negative first count", "N", "negative" },
        { "negative after delta", "3211mN", "negative" }, // count 4 = counts[2] + (−35)
    };

    [Theory]
    [MemberData(nameof(BadCompressed))]
    public void MalformedCompressedCountsAreRejected(string name, string counts, string expected)
    {
        var e = Assert.Throws<InvalidRegionException>(() => CocoRle.FromString(3, 4, counts));
        Assert.Equal(InvalidRegionReason.Malformed, e.Reason);
        Assert.Equal("rle.counts", e.Field);
        Assert.True(e.Message.Contains(expected), $"{name}: {e.Message}");
    }

    [Fact]
    public void MalformedPlainCountsAndSizesAreRejected()
    {
        Assert.Contains("negative", Assert.Throws<InvalidRegionException>(() => new CocoRle(3, 4, [3, -2, 11])).Message);
        Assert.Contains("needs 12", Assert.Throws<InvalidRegionException>(() => new CocoRle(3, 4, [3, 2, 1])).Message);
        Assert.Equal("rle.size", Assert.Throws<InvalidRegionException>(() => new CocoRle(0, 4, [])).Field);
    }

    [Fact]
    public void RleRegionMustMatchTheImageSize()
    {
        var region = new RleRegion(CocoRle.FromString(3, 4, "32112"));
        Assert.Equal(5, region.Rasterize(4, 3).Area());
        var e = Assert.Throws<InvalidRegionException>(() => region.Rasterize(3, 4));
        Assert.Equal(InvalidRegionReason.SizeMismatch, e.Reason);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("3×4 image", e.Message);
        Assert.Equal(InvalidRegionReason.Empty,
            Assert.Throws<InvalidRegionException>(() => new RleRegion(new CocoRle(3, 4, [12])).Rasterize(4, 3)).Reason);
    }
}
