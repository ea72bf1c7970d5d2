using System.Text;

namespace RegionChat.Data.Regions;

/// <summary>
/// COCO run-length encoding of a binary mask, as pycocotools stores segmentations: the mask is read column by column
/// (Fortran order: index x·Height + y), and <see cref="Counts"/> alternates runs of 0s and 1s, starting with 0s (the
/// first run may be empty). <see cref="Size"/> order is [height, width].
/// The compressed string form writes each count — from the fourth on, as the difference to the count two before —
/// in 5-bit groups, least significant first, one character (48 + group) per group, with bit 0x20 set when more groups
/// follow and bit 0x10 of the last group acting as the sign.
/// </summary>
public sealed class CocoRle
{
    public CocoRle(int height, int width, IReadOnlyList<long> counts, string field = "rle")
    {
        if (height <= 0 || width <= 0)
            throw new InvalidRegionException($"{field}.size", InvalidRegionReason.Malformed, $"size [{height}, {width}] must be positive [height, width]");
        long needed = (long)height * width;
        long total = 0;
        bool over = false;
        for (int i = 0; i < counts.Count; i++)
        {
            if (counts[i] < 0)
                throw new InvalidRegionException($"{field}.counts", InvalidRegionReason.Malformed, $"count {i} is negative ({counts[i]})");
            // Compared before adding: a sum of huge counts could wrap around to exactly the size.
            if (counts[i] > needed - total)
            {
                over = true;
                break;
            }
            total += counts[i];
        }
        if (over || total != needed)
            throw new InvalidRegionException($"{field}.counts", InvalidRegionReason.Malformed,
                $"counts sum to {(over ? "more than " + needed : total.ToString())}, but size [{height}, {width}] needs {needed}");
        Height = height;
        Width = width;
        Counts = counts.ToArray();
    }

    public int Height { get; }
    public int Width { get; }
    public IReadOnlyList<long> Counts { get; }

    /// <summary>[height, width], as COCO writes it.</summary>
    public int[] Size => [Height, Width];

    /// <summary>Encodes a row-major mask of <paramref name="height"/> × <paramref name="width"/> (nonzero = inside).</summary>
    public static CocoRle Encode(ReadOnlySpan<byte> mask, int height, int width)
    {
        if (height <= 0 || width <= 0 || (long)height * width != mask.Length)
            throw new ArgumentException($"mask holds {mask.Length} bytes, not {height}x{width}", nameof(mask));
        var counts = new List<long>();
        byte current = 0; // runs start with zeros
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
        return new CocoRle(height, width, counts);
    }

    /// <summary>The row-major mask, <paramref name="inside"/> where the runs of ones are, 0 elsewhere.</summary>
    public byte[] Decode(byte inside)
    {
        var mask = new byte[(long)Height * Width];
        long index = 0;
        for (int i = 0; i < Counts.Count; i++)
        {
            long end = index + Counts[i];
            if (i % 2 == 1)
                for (long k = index; k < end; k++)
                    mask[(int)(k % Height) * Width + (int)(k / Height)] = inside;
            index = end;
        }
        return mask;
    }

    /// <summary>Parses the compressed string form (pycocotools' rleFrString).</summary>
    public static CocoRle FromString(int height, int width, string compressed, string field = "rle")
    {
        var counts = new List<long>();
        int p = 0;
        while (p < compressed.Length)
        {
            long x = 0;
            int shift = 0;
            while (true)
            {
                if (p >= compressed.Length)
                    throw new InvalidRegionException($"{field}.counts", InvalidRegionReason.Malformed, "the compressed counts end in the middle of a number");
                char ch = compressed[p];
                if (ch < 48 || ch > 111)
                    throw new InvalidRegionException($"{field}.counts", InvalidRegionReason.Malformed,
                        $"character '{ch}' at position {p} is not a compressed-RLE character (those are '0'..'o')");
                int c = ch - 48;
                p++;
                if (shift > 40)
                    throw new InvalidRegionException($"{field}.counts", InvalidRegionReason.Malformed, $"number ending at position {p} is too long");
                x |= (long)(c & 0x1f) << shift;
                shift += 5;
                if ((c & 0x20) != 0) continue;
                if ((c & 0x10) != 0) x |= -1L << shift; // sign-extend
                break;
            }
            if (counts.Count > 2) x += counts[^2];
            counts.Add(x);
        }
        return new CocoRle(height, width, counts, field);
    }

    /// <summary>The compressed string form (pycocotools' rleToString).</summary>
    public string ToCompressedString()
    {
        var s = new StringBuilder();
        for (int i = 0; i < Counts.Count; i++)
        {
            long x = Counts[i];
            if (i > 2) x -= Counts[i - 2];
            bool more = true;
            while (more)
            {
                int c = (int)(x & 0x1f);
                x >>= 5; // arithmetic shift keeps the sign
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                s.Append((char)(c + 48));
            }
        }
        return s.ToString();
    }
}
