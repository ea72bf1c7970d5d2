using RegionChat.Data.Regions;
using RegionChat.Data.Tests.Shapes;

namespace RegionChat.Data.Tests.Regions;

public class CompressedRleTests
{
    // Expected strings worked by hand from the format (column-major runs from a 0-run; runs from index 3 on as differences
    // to the run two before; 5-bit groups + 48, 0x20 = more follows).
    [Theory]
    [InlineData(new byte[] { 0, 1, 1, 1 }, 2, 2, "13")]              // rows [0 1][1 1]: column-major 0 1 1 1 → runs 1, 3
    [InlineData(new byte[] { 1, 1, 1, 1 }, 2, 2, "04")]              // empty leading 0-run
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 3, 3, "9")]
    [InlineData(new byte[] { 1, 0, 1, 0, 0 }, 1, 5, "01101")]        // runs 0 1 1 1 2 → 0 1 1 (1-1) (2-1)
    [InlineData(new byte[] { 1, 1, 1, 1, 1, 0, 1 }, 1, 7, "051L")]   // runs 0 5 1 1 → 4th stored as 1-5 = -4 → 'L'
    [InlineData(new byte[] { 1, 0, 1, 0 }, 2, 2, "022")]              // rows [1 0][1 0]: column-major 1 1 0 0 → runs 0 2 2
    public void Encodes_small_masks_as_worked_by_hand(byte[] mask, int h, int w, string expected)
    {
        Assert.Equal(expected, CocoRle.Encode(mask, h, w).ToCompressedString());
    }

    [Fact]
    public void Long_runs_use_continuation_groups()
    {
        // runs 0, 100: 100 = 4 + 3·32 → groups 4|0x20 then 3 → 'T', '3'
        Assert.Equal("0T3", CocoRle.Encode(Enumerable.Repeat((byte)1, 100).ToArray(), 10, 10).ToCompressedString());
    }

    [Fact]
    public void Round_trips_through_an_independent_decoder()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int h = rng.Next(1, 70), w = rng.Next(1, 70);
            var mask = new byte[h * w];
            // blobs and noise so runs of all lengths (and negative differences) occur
            int cx = rng.Next(w), cy = rng.Next(h), r = rng.Next(1, 40);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    mask[y * w + x] = (byte)(((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r) ^ (rng.Next(20) == 0) ? 1 : 0);
            var rle = CocoRle.Encode(mask, h, w);
            string counts = rle.ToCompressedString();
            Assert.Matches("^[0-o]*$", counts);
            Assert.Equal(mask, SceneReference.DecodeCompressedRle(counts, h, w));
            // The budget counts runs in the string without decoding it.
            Assert.Equal(rle.Counts.Count, new RegionDescription.Rle(h, w, counts, null).Runs);
        }
    }

    [Fact]
    public void Refuses_counts_whose_sum_wraps_around_to_the_size()
    {
        // 86 + (2^63 - 1) + 21 + (2^63 - 1) + 3 wraps to 108 = 4 × 27 in 64 bits; a CI seed of the property test found it.
        long[] counts = [25, 15, 10, 18, 18, long.MaxValue, 21, long.MaxValue, 3];
        var e = Assert.Throws<InvalidRegionException>(() => new CocoRle(4, 27, counts));
        Assert.Contains("more than 108", e.Message);
    }

    [Fact]
    public void Rejects_a_size_that_does_not_match()
    {
        Assert.Throws<ArgumentException>(() => CocoRle.Encode(new byte[10], 3, 3));
    }
}
