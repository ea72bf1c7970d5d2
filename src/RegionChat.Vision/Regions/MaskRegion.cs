using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Regions;

/// <summary>
/// A mask image of the same size as the image. Grey values ≥ 128 are inside (so anti-aliased or JPEG-compressed masks
/// work, and 1-bit or palette PNGs, which decode to 0/255, too); colour masks are reduced to luminance first. A binary
/// mask stored as 0/1 values (common in datasets: its largest value is 1) has every 1 inside.
/// </summary>
public sealed class MaskRegion : Region
{
    public const byte Threshold = 128;

    /// <summary>The grey value from which a pixel is inside: 1 for a 0/1 mask (largest value 1), else <see cref="Threshold"/>.</summary>
    public byte InsideFrom => Grey.Max() == 1 ? (byte)1 : Threshold;

    /// <summary>A mask from 8-bit grey values, row-major.</summary>
    public MaskRegion(int width, int height, byte[] grey)
    {
        if (width <= 0 || height <= 0 || grey.LongLength != (long)width * height)
            throw new ArgumentException($"grey data of {grey.Length} bytes does not fit {width}×{height}", nameof(grey));
        Width = width;
        Height = height;
        Grey = grey;
    }

    public int Width { get; }
    public int Height { get; }
    public byte[] Grey { get; }

    public override string Kind => "mask";

    /// <summary>Decodes a mask image from encoded bytes (PNG, …); bad data becomes an <see cref="InvalidRegionException"/>.
    /// With a <paramref name="cost"/>, the header's pixels are counted against its budget before any pixel is decoded.</summary>
    public static MaskRegion Decode(ReadOnlyMemory<byte> data, ImageLimits? limits = null, RegionCost? cost = null) =>
        FromImage(() => ImageLoader.Decode<L8>(data, limits, Counter(cost)), "the mask");

    /// <summary>Loads a mask image file (its pixels counted against <paramref name="cost"/> before decoding).</summary>
    public static MaskRegion Load(string path, ImageLimits? limits = null, RegionCost? cost = null) =>
        FromImage(() => ImageLoader.Load<L8>(path, limits, Counter(cost)), $"mask file '{path}'");

    static Action<int, int>? Counter(RegionCost? cost) => cost == null ? null : (w, h) => cost.Mask("mask", w, h);

    static MaskRegion FromImage(Func<Image<L8>> decode, string what)
    {
        try
        {
            using var image = decode();
            var grey = new byte[(long)image.Width * image.Height];
            image.CopyPixelDataTo(grey);
            return new MaskRegion(image.Width, image.Height, grey);
        }
        catch (InvalidImageException e)
        {
            throw new InvalidRegionException("mask", InvalidRegionReason.Unreadable, $"{what} is not a usable image: {e.Message}", e);
        }
    }

    protected override string EmptyDescription(int width, int height) =>
        $"the mask has no pixel ≥ {Threshold} (its largest value is {Grey.Max()}); mark the region with 255 (or 1 in a 0/1 mask)";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        if (Width != width || Height != height)
            throw Error(InvalidRegionReason.SizeMismatch, $"the mask is {Width}×{Height} but the image is {width}×{height}");
        var mask = new RegionMask(width, height);
        byte from = InsideFrom;
        for (int i = 0; i < Grey.Length; i++) if (Grey[i] >= from) mask.Data[i] = RegionMask.Inside;
        return mask;
    }
}
