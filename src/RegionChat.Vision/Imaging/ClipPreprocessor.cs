using System.Runtime.InteropServices;
using RegionChat.Vision.Imaging.Internal;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Imaging;

/// <summary>
/// Turns an image and an optional region into Alpha-CLIP inputs, as the Python reference does with Pillow:
/// pad mode (LLaVA-1.5) pastes the image centred on a square of the mean colour (offset (max−w)//2, (max−h)//2) and resizes
/// it to R×R; crop mode (CLIP) resizes the short side to R (long side int(R·long/short)) and cuts the centre R×R
/// (offset round((size−R)/2), as torchvision). Images resize with bicubic, masks with bilinear, both exactly as Pillow.
/// The mask takes the same geometry (padding counts as outside), then alpha = (m/255 − 0.5)/0.26.
/// </summary>
public sealed class ClipPreprocessor(PreprocessOptions? options = null)
{
    /// <summary>Alpha of a pixel fully inside the region: (1 − 0.5)/0.26.</summary>
    public const float AlphaInside = (1f - 0.5f) / 0.26f;

    public PreprocessOptions Options { get; } = options ?? new PreprocessOptions();

    /// <summary>Preprocesses an image with a region; null or <see cref="WholeImageRegion"/> gives an all-inside alpha.
    /// Drawing the region stops with <see cref="OperationCanceledException"/> once <paramref name="ct"/> is cancelled.</summary>
    public PreprocessedImage Process(Image<Rgb24> image, Region? region, CancellationToken ct = default) =>
        Process(image, Draw(region, image.Width, image.Height, ct));

    /// <summary>Preprocesses an image with a mask of the same size (null = whole image, alpha all +1.9231).</summary>
    public PreprocessedImage Process(Image<Rgb24> image, RegionMask? mask = null)
    {
        if (mask != null && (mask.Width != image.Width || mask.Height != image.Height))
            throw new ArgumentException($"mask is {mask.Width}×{mask.Height} but the image is {image.Width}×{image.Height}", nameof(mask));
        return new PreprocessedImage(PixelValues(image), Alpha(image.Width, image.Height, mask), Options.Resolution);
    }

    /// <summary>The image's half of <see cref="Process(Image{Rgb24}, Region?, CancellationToken)"/>: its normalised pixels
    /// [3, R, R], which no region changes, so they can serve every region of the image
    /// (<see cref="WithRegion"/>).</summary>
    public float[] PixelValues(Image<Rgb24> image)
    {
        var g = Geometry.For(image.Width, image.Height, Options);
        int r = Options.Resolution;
        var pad = Options.EffectivePadColor;
        byte[] rgb = g.Resize(image.Width, image.Height, [pad.R, pad.G, pad.B], ImageRows(image), ResampleFilter.Bicubic);
        var pixelValues = new float[3 * r * r];
        for (int c = 0; c < 3; c++)
        {
            float mean = Options.Mean[c], std = Options.Std[c];
            int plane = c * r * r;
            for (int i = 0; i < r * r; i++) pixelValues[plane + i] = (rgb[i * 3 + c] / 255f - mean) / std;
        }
        return pixelValues;
    }

    /// <summary>The inputs for a region of a <paramref name="width"/>×<paramref name="height"/> image whose
    /// <see cref="PixelValues"/> are given (shared, not copied: nothing writes to them). The same as
    /// <see cref="Process(Image{Rgb24}, Region?, CancellationToken)"/> of that image and region.</summary>
    public PreprocessedImage WithRegion(float[] pixelValues, int width, int height, Region? region, CancellationToken ct = default)
    {
        int r = Options.Resolution;
        if (pixelValues.Length != 3 * r * r)
            throw new ArgumentException($"pixel values hold {pixelValues.Length} floats, not 3×{r}×{r}", nameof(pixelValues));
        return new PreprocessedImage(pixelValues, Alpha(width, height, Draw(region, width, height, ct)), r);
    }

    /// <summary>The region's mask at the image's size; null for the whole image.</summary>
    static RegionMask? Draw(Region? region, int width, int height, CancellationToken ct) =>
        region is null or WholeImageRegion ? null : region.Rasterize(width, height, ct);

    float[] Alpha(int width, int height, RegionMask? mask)
    {
        var alpha = new float[Options.Resolution * Options.Resolution];
        if (mask == null) Array.Fill(alpha, AlphaInside);
        else
        {
            byte[] m = Geometry.For(width, height, Options).Resize(mask.Width, mask.Height, [0], MaskRows(mask), ResampleFilter.Bilinear);
            for (int i = 0; i < alpha.Length; i++) alpha[i] = (m[i] / 255f - 0.5f) / 0.26f;
        }
        return alpha;
    }

    static RowReader ImageRows(Image<Rgb24> image) => (y, row) =>
        MemoryMarshal.AsBytes(image.DangerousGetPixelRowMemory(y).Span).CopyTo(row);

    static RowReader MaskRows(RegionMask mask) => (y, row) =>
        mask.Data.AsSpan(y * mask.Width, mask.Width).CopyTo(row);

    /// <summary>
    /// Source = the (virtually padded) image of SourceWidth×SourceHeight with the real image at (OffsetX, OffsetY);
    /// it is resized to ResizedWidth×ResizedHeight, of which the R×R window at (WindowX, WindowY) is kept.
    /// </summary>
    readonly record struct Geometry(int SourceWidth, int SourceHeight, int OffsetX, int OffsetY,
        int ResizedWidth, int ResizedHeight, int WindowX, int WindowY, int Resolution)
    {
        public static Geometry For(int w, int h, PreprocessOptions o)
        {
            int r = o.Resolution;
            if (o.Mode == SquareMode.Pad)
            {
                int side = Math.Max(w, h);
                return new Geometry(side, side, (side - w) / 2, (side - h) / 2, r, r, 0, 0, r);
            }
            int rw = w <= h ? r : (int)((long)r * w / h);
            int rh = w <= h ? (int)((long)r * h / w) : r;
            int wx = (int)Math.Round((rw - r) / 2.0, MidpointRounding.ToEven); // Python's round(), as torchvision's CenterCrop
            int wy = (int)Math.Round((rh - r) / 2.0, MidpointRounding.ToEven);
            return new Geometry(w, h, 0, 0, rw, rh, wx, wy, r);
        }

        public byte[] Resize(int width, int height, byte[] pad, RowReader rows, ResampleFilter filter) =>
            PilResampler.Resize(new PaddedSource(SourceWidth, SourceHeight, OffsetX, OffsetY, width, height, pad, rows),
                ResizedWidth, ResizedHeight, WindowX, WindowY, Resolution, Resolution, filter);
    }
}
