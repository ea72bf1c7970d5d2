using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Server.Tests;

/// <summary>Images the tests send: generated shape scenes, masks, and deliberately broken files.</summary>
static class TestImages
{
    /// <summary>The bytes of a PNG that <paramref name="save"/> writes to a file (ShapesScene.SavePng, ShapesPng.SaveMaskPng).</summary>
    public static ByteString SavedPng(Action<string> save)
    {
        using var temp = new RegionChat.TestSupport.TempDir();
        string path = temp.File("x.png");
        save(path);
        return ByteString.CopyFrom(File.ReadAllBytes(path));
    }

    /// <summary>A 64×64 shapes scene as PNG (about 9 KB).</summary>
    public static byte[] Scene(long seed)
    {
        using var image = ShapesGenerator.Generate(seed).ToImage();
        return Png(image);
    }

    public static ByteString SceneBytes(long seed) => ByteString.CopyFrom(Scene(seed));

    /// <summary>A grey mask PNG of the given size, 255 inside the box [x0, x1) × [y0, y1).</summary>
    public static byte[] Mask(int width, int height, int x0, int y0, int x1, int y1)
    {
        using var image = new Image<L8>(width, height);
        for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            image[x, y] = new L8(255);
        return Png(image);
    }

    /// <summary>The scene of <paramref name="seed"/> as an RGBA PNG whose alpha is 255 inside the box [x0, x1) × [y0, y1)
    /// and 0 outside (the RGB stays the scene's everywhere): the RGBA framing of the same region as
    /// <see cref="Mask"/>.</summary>
    public static byte[] SceneWithAlpha(long seed, int x0, int y0, int x1, int y1)
    {
        using var rgb = ShapesGenerator.Generate(seed).ToImage();
        using var image = rgb.CloneAs<Rgba32>();
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        {
            var p = image[x, y];
            p.A = (byte)(x >= x0 && x < x1 && y >= y0 && y < y1 ? 255 : 0);
            image[x, y] = p;
        }
        return Png(image);
    }

    /// <summary>A small TGA image: a real image in a format the server does not accept.</summary>
    public static byte[] Tga()
    {
        using var image = new Image<Rgb24>(8, 8);
        using var ms = new MemoryStream();
        image.Save(ms, new SixLabors.ImageSharp.Formats.Tga.TgaEncoder());
        return ms.ToArray();
    }

    public static string DataUrl(byte[] bytes, string mediaType = "image/png") => $"data:{mediaType};base64,{Convert.ToBase64String(bytes)}";

    /// <summary>Random RGB noise, which PNG cannot compress: about 3 bytes per pixel.</summary>
    public static byte[] Noise(int size, int seed)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(size, size);
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            image[x, y] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        return Png(image);
    }

    /// <summary>The first half of a valid PNG.</summary>
    public static byte[] TruncatedPng() => Scene(7)[..(Scene(7).Length / 2)];

    public static byte[] NotAnImage() => Encoding.UTF8.GetBytes("these bytes are a sentence, not an image");

    /// <summary>A valid-looking PNG whose IHDR (with a correct CRC) claims <paramref name="width"/>×<paramref name="height"/>
    /// RGB pixels, followed by a tiny IDAT and IEND: a few dozen bytes that would decode to gigabytes.</summary>
    public static byte[] PngHeaderClaiming(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type RGB
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]); // an empty zlib stream
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        s.Write(header);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32([.. header[4..], .. data]));
        s.Write(crc);
    }

    /// <summary>The CRC-32 PNG chunks use (ISO-HDLC, reflected polynomial 0xEDB88320).</summary>
    static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    static byte[] Png<TPixel>(Image<TPixel> image) where TPixel : unmanaged, IPixel<TPixel>
    {
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ms.ToArray();
    }
}
