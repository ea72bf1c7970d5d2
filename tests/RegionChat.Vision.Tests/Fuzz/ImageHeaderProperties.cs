using CsCheck;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Fuzz;

/// <summary>Valid PNG, JPEG, GIF, WebP and BMP files with bytes flipped, cut, overwritten by large numbers (the header
/// sizes) or repeated (chunks, markers): each decodes to an image within the limits or is refused with an
/// <see cref="InvalidImageException"/>, never another exception. A failure prints the seed that replays it.</summary>
public class ImageHeaderProperties
{
    static readonly ImageLimits Limits = new() { MaxPixels = 1_000_000, MaxSide = 2048, MaxBytes = 1 << 20 };

    static readonly byte[][] Originals = [.. new IImageEncoder[]
        {
            new PngEncoder(), new JpegEncoder(), new GifEncoder(), new WebpEncoder(), new BmpEncoder(),
            new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }, new PngEncoder { ColorType = PngColorType.Palette },
        }.Select(Encode)];

    static byte[] Encode(IImageEncoder encoder)
    {
        using var image = new Image<Rgb24>(23, 17);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                image[x, y] = new Rgb24((byte)(x * 11), (byte)(y * 15), (byte)((x ^ y) * 7));
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    /// <summary>One edit: 0 flip a byte, 1 cut the tail, 2 write a big-endian or little-endian 32-bit number, 3 repeat a span.</summary>
    static byte[] Apply(byte[] data, (int Op, double Where, uint Value) edit)
    {
        if (data.Length == 0) return data;
        int at = Math.Min((int)(edit.Where * data.Length), data.Length - 1);
        switch (edit.Op)
        {
            case 0:
                var flipped = (byte[])data.Clone();
                flipped[at] ^= (byte)(1 << (int)(edit.Value % 8));
                return flipped;
            case 1:
                return data[..at];
            case 2:
                var written = (byte[])data.Clone();
                var bytes = BitConverter.GetBytes(edit.Value);
                if (edit.Value % 2 == 0) Array.Reverse(bytes);
                for (int k = 0; k < 4 && at + k < written.Length; k++) written[at + k] = bytes[k];
                return written;
            default:
                int length = (int)Math.Min(edit.Value % 64 + 1, (uint)(data.Length - at));
                return [.. data[..(at + length)], .. data[at..]];
        }
    }

    static readonly Gen<uint> Number = Gen.Frequency((3, Gen.UInt), (2, Gen.OneOf(0u, 1u, 0xFFFFu, 0x7FFFFFFFu, 0xFFFFFFFFu, 60000u, 100000u)));

    [Fact]
    public void AnyDamagedImageDecodesWithinTheLimitsOrIsRefused()
    {
        Gen.Select(Gen.Int[0, Originals.Length - 1], Gen.Select(Gen.Int[0, 3], Gen.Double[0, 1], Number).Array[1, 4]).Sample((which, edits) =>
        {
            byte[] data = edits.Aggregate(Originals[which], Apply);
            try
            {
                using var image = ImageLoader.Decode(data, Limits);
                Assert.InRange(image.Width, 1, Limits.MaxSide);
                Assert.InRange(image.Height, 1, Limits.MaxSide);
                Assert.True((long)image.Width * image.Height <= Limits.MaxPixels);
            }
            catch (InvalidImageException)
            {
            }
        }, iter: 2000, threads: 1);
    }

    [Fact]
    public void EveryOriginalDecodes()
    {
        // The property above only means something if its starting points are good images.
        foreach (var data in Originals)
        {
            using var image = ImageLoader.Decode(data, Limits);
            Assert.Equal((23, 17), (image.Width, image.Height));
        }
    }
}
