using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;

namespace RegionChat.Client.Tests;

/// <summary>Generated 64×64 shapes scenes as PNG bytes, and noise pictures (they barely compress) of a given size.</summary>
static class Scenes
{
    public static byte[] Png(long seed)
    {
        using var image = ShapesGenerator.Generate(seed).ToImage();
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ms.ToArray();
    }

    public static byte[] NoisePng(int size, int seed)
    {
        var random = new Random(seed);
        using var image = new Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(size, size);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (ref var p in rows.GetRowSpan(y)) p = new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        });
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ms.ToArray();
    }
}
