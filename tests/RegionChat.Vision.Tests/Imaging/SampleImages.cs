using System.Buffers.Binary;
using System.IO.Compression;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Imaging;

/// <summary>Real encoded images written by ImageSharp, and hand-built PNG bytes for hostile cases.</summary>
internal static class SampleImages
{
    /// <summary>Left half red, right half blue (or any two colours); noise-free so lossy codecs stay close.</summary>
    public static Image<Rgb24> TwoHalves(int width, int height, Rgb24? left = null, Rgb24? right = null)
    {
        var a = left ?? new Rgb24(255, 0, 0);
        var b = right ?? new Rgb24(0, 0, 255);
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++) row[x] = x < width / 2 ? a : b;
            }
        });
        return image;
    }

    public static Image<Rgb24> Noise(int width, int height, int seed)
    {
        var rnd = new Random(seed);
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (ref var px in rows.GetRowSpan(y)) px = new Rgb24((byte)rnd.Next(256), (byte)rnd.Next(256), (byte)rnd.Next(256));
        });
        return image;
    }

    public static byte[] Encode(Image image, Action<Image, Stream> save)
    {
        using var ms = new MemoryStream();
        save(image, ms);
        return ms.ToArray();
    }

    public static byte[] Png(Image image) => Encode(image, (i, s) => i.SaveAsPng(s));
    public static byte[] Jpeg(Image image) => Encode(image, (i, s) => i.SaveAsJpeg(s, new JpegEncoder { Quality = 95 }));
    public static byte[] Webp(Image image) => Encode(image, (i, s) => i.SaveAsWebp(s, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }));
    public static byte[] Bmp(Image image) => Encode(image, (i, s) => i.SaveAsBmp(s));
    public static byte[] Gif(Image image) => Encode(image, (i, s) => i.SaveAsGif(s, new GifEncoder()));

    /// <summary>
    /// A PNG whose IHDR declares width×height RGB pixels while carrying only <paramref name="rows"/> rows of zeros:
    /// with large sizes, a decompression bomb in a few hundred bytes. Chunks have correct CRCs.
    /// </summary>
    public static byte[] HandMadePng(int width, int height, int rows) => HandMadePng(width, height, rows, 0);

    /// <summary>As above, with a zTXt chunk (a compressed "Comment") that inflates to <paramref name="textBytes"/> zeros
    /// from a few hundred KB: a decompression bomb in the metadata rather than the pixels.</summary>
    public static byte[] HandMadePng(int width, int height, int rows, long textBytes)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB
        WriteChunk(ms, "IHDR", ihdr);
        if (textBytes > 0)
        {
            using var text = new MemoryStream();
            text.Write("Comment\0\0"u8);   // keyword, its terminator, compression method 0
            using (var z = new ZLibStream(text, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                var zeros = new byte[1 << 20];
                for (long left = textBytes; left > 0; left -= zeros.Length) z.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
            }
            WriteChunk(ms, "zTXt", text.ToArray());
        }
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                var line = new byte[1 + Math.Min(width, 4096) * 3]; // filter byte 0 + pixels (capped: a bomb needs no real rows)
                for (int r = 0; r < rows; r++) z.Write(line);
            }
            WriteChunk(ms, "IDAT", raw.ToArray());
        }
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> be = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(be, data.Length);
        s.Write(be);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(be, Crc32(typeAndData));
        s.Write(be);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
