using RegionChat.TestSupport;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Imaging;

public class ImageLoaderTests
{
    static void AssertClose(Rgb24 expected, Rgb24 actual, int tolerance)
    {
        Assert.InRange(actual.R, Math.Max(0, expected.R - tolerance), Math.Min(255, expected.R + tolerance));
        Assert.InRange(actual.G, Math.Max(0, expected.G - tolerance), Math.Min(255, expected.G + tolerance));
        Assert.InRange(actual.B, Math.Max(0, expected.B - tolerance), Math.Min(255, expected.B + tolerance));
    }

    public static TheoryData<string, int> Formats => new()
    {
        { "png", 0 }, { "jpg", 12 }, { "webp", 0 }, { "bmp", 0 }, { "gif", 0 },
    };

    static byte[] EncodeAs(string format, Image image) => format switch
    {
        "png" => SampleImages.Png(image),
        "jpg" => SampleImages.Jpeg(image),
        "webp" => SampleImages.Webp(image),
        "bmp" => SampleImages.Bmp(image),
        _ => SampleImages.Gif(image),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void DecodesEachFormatFromAFile(string format, int tolerance)
    {
        using var dir = new TempDir();
        using (var source = SampleImages.TwoHalves(48, 32)) File.WriteAllBytes(dir.File("image." + format), EncodeAs(format, source));

        using var image = ImageLoader.Load(dir.File("image." + format));
        Assert.Equal(48, image.Width);
        Assert.Equal(32, image.Height);
        AssertClose(new Rgb24(255, 0, 0), image[5, 16], tolerance);
        AssertClose(new Rgb24(0, 0, 255), image[42, 16], tolerance);
    }

    [Fact]
    public void DecodesFromBytesAndStreams()
    {
        using var source = SampleImages.Noise(20, 10, seed: 1);
        byte[] png = SampleImages.Png(source);
        using var fromBytes = ImageLoader.Decode(png);
        using var fromStream = ImageLoader.Decode(new MemoryStream(png));
        Assert.Equal(source[13, 7], fromBytes[13, 7]);
        Assert.Equal(source[13, 7], fromStream[13, 7]);
    }

    [Fact]
    public void GifGivesItsFirstFrameOnly()
    {
        using var gif = new Image<Rgb24>(16, 16, new Rgb24(255, 0, 0));
        using (var second = new Image<Rgb24>(16, 16, new Rgb24(0, 0, 255))) gif.Frames.AddFrame(second.Frames.RootFrame);
        Assert.Equal(2, gif.Frames.Count);
        byte[] bytes = SampleImages.Gif(gif);

        using var image = ImageLoader.Decode(bytes);
        Assert.Equal(1, image.Frames.Count);
        Assert.Equal(new Rgb24(255, 0, 0), image[8, 8]);
    }

    [Fact]
    public void JpegExifOrientation6IsRotatedUpright()
    {
        // Orientation 6 = the stored picture must be turned 90° clockwise to display: 40×20 becomes 20×40, and the stored
        // left half (red) ends up on top.
        using var source = SampleImages.TwoHalves(40, 20);
        source.Metadata.ExifProfile = new ExifProfile();
        source.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        byte[] jpeg = SampleImages.Jpeg(source);

        using var image = ImageLoader.Decode(jpeg);
        Assert.Equal(20, image.Width);
        Assert.Equal(40, image.Height);
        AssertClose(new Rgb24(255, 0, 0), image[10, 5], 12);
        AssertClose(new Rgb24(0, 0, 255), image[10, 35], 12);
    }

    [Fact]
    public void MasksDecodeToGreyIncludingOneBitPng()
    {
        using var mask = new Image<L8>(8, 4);
        mask[6, 2] = new L8(255);
        byte[] png = SampleImages.Encode(mask, (i, s) => i.SaveAsPng(s, new SixLabors.ImageSharp.Formats.Png.PngEncoder
        {
            BitDepth = SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit1,
            ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.Grayscale,
        }));
        using var decoded = ImageLoader.Decode<L8>(png);
        Assert.Equal(255, decoded[6, 2].PackedValue);
        Assert.Equal(0, decoded[5, 2].PackedValue);
    }

    [Fact]
    public void LimitsAreConfigurable()
    {
        using var source = SampleImages.Noise(100, 100, seed: 2);
        byte[] png = SampleImages.Png(source);
        Assert.Equal(InvalidImageReason.TooManyBytes,
            Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(png, new ImageLimits { MaxBytes = png.Length - 1 })).Reason);
        Assert.Equal(InvalidImageReason.TooManyPixels,
            Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(png, new ImageLimits { MaxPixels = 9_999 })).Reason);
        Assert.Equal(InvalidImageReason.TooManyPixels,
            Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(png, new ImageLimits { MaxSide = 99 })).Reason);
        using var ok = ImageLoader.Decode(png, new ImageLimits { MaxBytes = png.Length, MaxPixels = 10_000, MaxSide = 100 });
        Assert.Equal(100, ok.Width);
        Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(new MemoryStream(png), new ImageLimits { MaxBytes = 1000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageLimits { MaxPixels = 0 });
    }

    [Fact]
    public void APngWhoseCompressedTextInflatesToHundredsOfMegabytesDecodesWithoutInflatingIt()
    {
        // 256 MB of zeros in a zTXt chunk of a 5×3 image: ImageSharp inflated it while reading the header, before any limit.
        byte[] bomb = SampleImages.HandMadePng(5, 3, rows: 3, textBytes: 256L << 20);
        Assert.True(bomb.Length < 1 << 20, $"the bomb is {bomb.Length} bytes");
        long before = GC.GetAllocatedBytesForCurrentThread();
        using (var image = ImageLoader.Decode(bomb))
            Assert.Equal((5, 3), (image.Width, image.Height));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16L << 20, $"decoding allocated {allocated:N0} bytes");
    }

    [Fact]
    public void SmallHandMadePngDecodes()
    {
        // Checks the hostile-PNG builder itself: with all rows present it is a valid black image.
        using var image = ImageLoader.Decode(SampleImages.HandMadePng(5, 3, rows: 3));
        Assert.Equal(5, image.Width);
        Assert.Equal(new Rgb24(0, 0, 0), image[4, 2]);
    }

    /// <summary>Overwrites the middle of the first IDAT chunk's zlib data (the CRC no longer matches either).</summary>
    static byte[] DamageIdat(byte[] png)
    {
        int idat = png.AsSpan().IndexOf("IDAT"u8);
        for (int i = idat + 10; i < idat + 40; i++) png[i] = 0xFF;
        return png;
    }

    static byte[] Cut(byte[] data, double fraction) => data[..(int)(data.Length * fraction)];

    public static TheoryData<string, Func<byte[]>, InvalidImageReason> BadImages => new()
    {
        { "30000×30000 PNG header (decompression bomb)", () => SampleImages.HandMadePng(30000, 30000, rows: 2), InvalidImageReason.TooManyPixels },
        { "1×50000 PNG (side too long)", () => SampleImages.HandMadePng(1, 50000, rows: 50000), InvalidImageReason.TooManyPixels },
        { "truncated PNG", () => Cut(SampleImages.Png(SampleImages.Noise(64, 64, 3)), 0.5), InvalidImageReason.Truncated },
        { "PNG with all chunks but image data for 10 of 64 rows", () => SampleImages.HandMadePng(64, 64, rows: 10), InvalidImageReason.Truncated },
        { "PNG with damaged compressed data", () => DamageIdat(SampleImages.Png(SampleImages.Noise(64, 64, 3))), InvalidImageReason.Corrupt },
        { "PNG cut inside the header", () => Cut(SampleImages.Png(SampleImages.Noise(64, 64, 3)), 0.002), InvalidImageReason.Truncated },
        { "PNG with a broken IHDR", () => { var b = SampleImages.HandMadePng(8, 8, rows: 8); b[16] = 0x80; return b; }, InvalidImageReason.Corrupt },
        { "truncated JPEG", () => Cut(SampleImages.Jpeg(SampleImages.Noise(64, 64, 4)), 0.6), InvalidImageReason.Truncated },
        { "truncated WebP", () => Cut(SampleImages.Webp(SampleImages.Noise(64, 64, 5)), 0.7), InvalidImageReason.Truncated },
        { "truncated GIF", () => Cut(SampleImages.Gif(SampleImages.Noise(64, 64, 6)), 0.5), InvalidImageReason.Truncated },
        { "truncated BMP", () => Cut(SampleImages.Bmp(SampleImages.Noise(64, 64, 7)), 0.5), InvalidImageReason.Truncated },
        { "text", () => "hello, this is not an image"u8.ToArray(), InvalidImageReason.NotAnImage },
        { "empty", () => [], InvalidImageReason.NotAnImage },
        { "random bytes", () => { var b = new byte[4096]; new Random(8).NextBytes(b); return b; }, InvalidImageReason.NotAnImage },
        { "TIFF", () => SampleImages.Encode(SampleImages.Noise(8, 8, 9), (i, s) => i.SaveAsTiff(s, new TiffEncoder())), InvalidImageReason.Unsupported },
    };

    [Theory]
    [MemberData(nameof(BadImages))]
    public void BadImagesGiveAClearReason(string name, Func<byte[]> make, InvalidImageReason reason)
    {
        var e = Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(make()));
        Assert.True(reason == e.Reason, $"{name}: expected {reason}, got {e.Reason}: {e.Message}");
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void BombMessageNamesTheSizeAndTheLimit()
    {
        var e = Assert.Throws<InvalidImageException>(() => ImageLoader.Decode(SampleImages.HandMadePng(30000, 30000, rows: 1)));
        Assert.Contains("30000×30000", e.Message);
        Assert.Contains("40,000,000", e.Message);
    }

    [Fact]
    public void MissingFileIsUnreadable()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidImageException>(() => ImageLoader.Load(dir.File("nope.png")));
        Assert.Equal(InvalidImageReason.Unreadable, e.Reason);
        Assert.Contains("nope.png", e.Message);
    }
}

public class ImageLoaderFuzzTests
{
    public static TheoryData<string> Formats => new() { "png", "jpg", "webp", "bmp", "gif" };

    [Theory]
    [MemberData(nameof(Formats))]
    public void DamagedFilesEitherDecodeOrThrowInvalidImageException(string format)
    {
        // Flip random bytes and cut at random places in a real file: the only acceptable outcomes are an image or an
        // InvalidImageException — never another exception type.
        using var source = SampleImages.Noise(24, 16, seed: 11);
        byte[] original = format switch
        {
            "png" => SampleImages.Png(source),
            "jpg" => SampleImages.Jpeg(source),
            "webp" => SampleImages.Webp(source),
            "bmp" => SampleImages.Bmp(source),
            _ => SampleImages.Gif(source),
        };
        var rnd = new Random(format.Length * 131 + format[0]); // string.GetHashCode is randomised per process
        int decoded = 0, rejected = 0;
        for (int trial = 0; trial < 150; trial++)
        {
            byte[] damaged = (byte[])original.Clone();
            for (int k = rnd.Next(1, 6); k > 0; k--) damaged[rnd.Next(damaged.Length)] = (byte)rnd.Next(256);
            if (trial % 3 == 0) damaged = damaged[..rnd.Next(1, damaged.Length)];
            try
            {
                using var image = ImageLoader.Decode(damaged);
                decoded++;
            }
            catch (InvalidImageException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                rejected++;
            }
        }
        Assert.True(rejected > 0, $"{format}: no damaged file was rejected ({decoded} decoded)");
    }
}
