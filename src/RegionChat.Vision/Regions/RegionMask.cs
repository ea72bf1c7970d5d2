namespace RegionChat.Vision.Regions;

/// <summary>A rasterised region: one byte per image pixel, row-major, 255 inside and 0 outside.</summary>
public sealed class RegionMask
{
    public const byte Inside = 255;

    public RegionMask(int width, int height, byte[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"mask size {width}×{height} must be positive");
        data ??= new byte[(long)width * height];
        if (data.LongLength != (long)width * height)
            throw new ArgumentException($"mask data has {data.Length} bytes, {width}×{height} needs {(long)width * height}", nameof(data));
        Width = width;
        Height = height;
        Data = data;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major pixels (index y·Width + x), each 0 or 255.</summary>
    public byte[] Data { get; }

    public bool this[int x, int y] => Data[y * Width + x] != 0;

    internal void Set(int x, int y) => Data[y * Width + x] = Inside;

    /// <summary>Number of pixels inside.</summary>
    public long Area()
    {
        long n = 0;
        foreach (byte b in Data) if (b != 0) n++;
        return n;
    }

    public bool IsEmpty => Array.IndexOf(Data, Inside) < 0;
}
