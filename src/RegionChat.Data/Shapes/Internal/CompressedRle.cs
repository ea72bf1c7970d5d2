namespace RegionChat.Data.Shapes.Internal;

/// <summary>
/// COCO compressed RLE (the string pycocotools' encode returns), small and encode-only. Runs are taken over the mask in
/// column-major order and alternate 0-runs and 1-runs, starting with a (possibly empty) 0-run. Each run from the fourth on
/// is stored as its difference from the run two before; every value is written in 5-bit groups, least significant first,
/// as chars 48 + group, with 0x20 set while more groups follow (sign taken from bit 0x10 of the last group).
/// </summary>
internal static class CompressedRle
{
    /// <summary>Encodes a row-major mask (non-zero = inside) of the given height and width.</summary>
    public static string Encode(ReadOnlySpan<byte> mask, int height, int width)
    {
        if (height < 0 || width < 0 || (long)height * width != mask.Length)
            throw new ArgumentException($"mask holds {mask.Length} bytes, not {height}x{width}", nameof(mask));
        var counts = new List<long>();
        byte current = 0;
        long run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                byte v = mask[y * width + x] != 0 ? (byte)1 : (byte)0;
                if (v != current)
                {
                    counts.Add(run);
                    run = 0;
                    current = v;
                }
                run++;
            }
        counts.Add(run);

        var s = new System.Text.StringBuilder(counts.Count * 2);
        for (int i = 0; i < counts.Count; i++)
        {
            long value = counts[i];
            if (i > 2) value -= counts[i - 2];   // pycocotools differences from index 3 on (its "i>2")
            bool more = true;
            while (more)
            {
                int group = (int)(value & 0x1f);
                value >>= 5;
                more = (group & 0x10) != 0 ? value != -1 : value != 0;
                if (more) group |= 0x20;
                s.Append((char)(group + 48));
            }
        }
        return s.ToString();
    }
}
