using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Data.Shapes;

/// <summary>Scenes and masks as ImageSharp images and PNG files (optionally enlarged by nearest neighbour, for viewing).</summary>
public static class ShapesPng
{
    static readonly PngEncoder Encoder = new() { CompressionLevel = PngCompressionLevel.BestCompression };

    /// <summary>The scene as a 64×64 (× scale) RGB image.</summary>
    public static Image<Rgb24> ToImage(this ShapesScene scene, int scale = 1) =>
        Image.LoadPixelData<Rgb24>(Enlarge(scene.Pixels, 3, CheckScale(scale)), scene.Width * scale, scene.Height * scale);

    /// <summary>A 0/1 mask as an 8-bit grey image, 255 = region.</summary>
    public static Image<L8> MaskToImage(byte[] mask, int scale = 1)
    {
        if (mask.Length != ShapesSpec.PixelCount)
            throw new ArgumentException($"a mask holds {ShapesSpec.PixelCount} bytes, got {mask.Length}", nameof(mask));
        var grey = mask.Select(b => b != 0 ? (byte)255 : (byte)0).ToArray();
        int side = ShapesSpec.CanvasSize * CheckScale(scale);
        return Image.LoadPixelData<L8>(Enlarge(grey, 1, scale), side, side);
    }

    public static void SavePng(this ShapesScene scene, string path, int scale = 1)
    {
        using var image = scene.ToImage(scale);
        image.SaveAsPng(path, Encoder);
    }

    public static void SaveMaskPng(byte[] mask, string path, int scale = 1)
    {
        using var image = MaskToImage(mask, scale);
        image.SaveAsPng(path, Encoder);
    }

    static int CheckScale(int scale) =>
        scale is >= 1 and <= 32 ? scale : throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale must be 1..32");

    static byte[] Enlarge(byte[] src, int channels, int scale)
    {
        const int n = ShapesSpec.CanvasSize;
        if (scale == 1) return src;
        int side = n * scale;
        var dst = new byte[side * side * channels];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                Array.Copy(src, ((y / scale) * n + x / scale) * channels, dst, (y * side + x) * channels, channels);
        return dst;
    }
}
