using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Internal;

/// <summary>
/// Alpha-CLIP's RGBA framing: the alpha channel of a PNG or WebP image is the region (alpha ≥ 128 inside, transparent
/// outside) and its RGB the image. An image that is fully opaque, or has no alpha channel, is the whole image.
/// </summary>
internal sealed class AlphaRegionSource : RegionSource
{
    public static AlphaRegionSource Instance { get; } = new();

    /// <summary>The alpha source for PNG and WebP bytes (the formats whose alpha counts), else null.</summary>
    public static AlphaRegionSource? For(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith(PngSignature) || (bytes.Length >= 12 && bytes.StartsWith("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8))
            ? Instance : null;

    static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public const string StoredName = "alpha";

    public override string CacheKey => "alpha";

    internal override string? StoredForm => StoredName;

    public override Region? CreateRegion(ImageLimits limits, RegionBudget budget) =>
        throw new InvalidOperationException("the alpha region is made with its image (Decode)");

    /// <summary>The image's RGB and its alpha region: both come from one decode (other regions need only the image's size).</summary>
    public DecodedVisual Decode(StoredImage stored, ImageLimits limits)
    {
        using var rgba = ImageLoader.Decode<Rgba32>(stored.Bytes, limits);
        var alpha = new byte[(long)rgba.Width * rgba.Height];
        bool translucent = false;
        rgba.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                var a = alpha.AsSpan(y * rows.Width, rows.Width);
                for (int x = 0; x < row.Length; x++)
                {
                    a[x] = row[x].A;
                    translucent |= row[x].A != 255;
                }
            }
        });
        // Converting to RGB drops alpha without compositing: the colours under transparent pixels are kept as they are.
        var rgb = rgba.CloneAs<Rgb24>();
        return new DecodedVisual(rgb, translucent ? new AlphaRegion(rgba.Width, rgba.Height, alpha) : null);
    }

    /// <summary>Errors about the alpha region name the image itself.</summary>
    public override string ErrorField(string regionField, InvalidRegionException e) => regionField;

    sealed class AlphaRegion(int width, int height, byte[] alpha) : Region
    {
        public override string Kind => "alpha";

        protected override RegionMask RasterizeCore(int w, int h, CancellationToken ct)
        {
            if (w != width || h != height) throw Error(InvalidRegionReason.SizeMismatch, $"the alpha channel is {width}×{height} but the image is {w}×{h}");
            var mask = new RegionMask(w, h);
            for (int i = 0; i < alpha.Length; i++) if (alpha[i] >= MaskRegion.Threshold) mask.Data[i] = RegionMask.Inside;
            return mask;
        }

        protected override string EmptyDescription(int w, int h) =>
            $"the image's alpha channel marks no pixel as the region (none has alpha ≥ {MaskRegion.Threshold}); keep the region opaque and make " +
            "the rest transparent";
    }
}

/// <summary>A decoded image and the region its alpha channel marks (null = the whole image).</summary>
internal sealed record DecodedVisual(Image<Rgb24> Image, Region? Region) : IDisposable
{
    public void Dispose() => Image.Dispose();
}
