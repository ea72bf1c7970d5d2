using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;

namespace RegionChat.Client.Tests;

/// <summary>Generated 64×64 shapes scenes as PNG bytes.</summary>
static class Scenes
{
    public static byte[] Png(long seed)
    {
        using var image = ShapesGenerator.Generate(seed).ToImage();
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ms.ToArray();
    }
}
