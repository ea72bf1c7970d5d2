using System.Runtime.InteropServices;
using RegionChat.Vision.Imaging.Internal;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RegionChat.Vision.Imaging;

/// <summary>
/// Decodes PNG, JPEG, WebP, BMP and GIF (first frame) within <see cref="ImageLimits"/>, applying EXIF orientation.
/// Order of checks: byte size, format, header dimensions (before any pixel is allocated or any data inflated), container
/// completeness (truncation; ImageSharp itself would decode a cut-off file without complaint), decode.
/// Every rejection is an <see cref="InvalidImageException"/>.
/// </summary>
public static class ImageLoader
{
    static readonly Configuration Config = CreateConfiguration();

    static Configuration CreateConfiguration()
    {
        var config = new Configuration(
            new PngConfigurationModule(), new JpegConfigurationModule(), new WebpConfigurationModule(),
            new BmpConfigurationModule(), new GifConfigurationModule());
        // Only the first GIF frame is used; decoding all of them would multiply memory by the frame count.
        config.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        return config;
    }

    /// <summary>Decodes an RGB image from encoded bytes.</summary>
    public static Image<Rgb24> Decode(ReadOnlyMemory<byte> data, ImageLimits? limits = null) => Decode<Rgb24>(data, limits);

    /// <summary>Decodes an image from encoded bytes into the given pixel type (e.g. L8 for masks).
    /// <paramref name="checkHeader"/> sees the header's width and height once the limits passed, before anything is
    /// decoded, and may throw to stop it (a region's budget of mask pixels).</summary>
    public static Image<TPixel> Decode<TPixel>(ReadOnlyMemory<byte> data, ImageLimits? limits = null, Action<int, int>? checkHeader = null)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        limits ??= ImageLimits.Default;
        if (data.Length > limits.MaxBytes) throw TooManyBytes(data.Length, limits);
        if (data.IsEmpty) throw new InvalidImageException(InvalidImageReason.NotAnImage, "the image data is empty");

        byte[] array = MemoryMarshal.TryGetArray(data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : data.ToArray();
        var span = array.AsSpan();

        IImageFormat format = DetectFormat(span);
        if (format is PngFormat)
        {
            ContainerCheck.Structure(format, span);
            array = ContainerCheck.PngWithoutText(array);
            span = array.AsSpan();
        }
        IImageInfo info = Identify(array, format, span);
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0)
            throw new InvalidImageException(InvalidImageReason.Corrupt, $"{format.Name} header declares an empty image ({info.Width}×{info.Height})");
        if (pixels > limits.MaxPixels)
            throw new InvalidImageException(InvalidImageReason.TooManyPixels,
                $"image is {info.Width}×{info.Height} = {pixels:N0} pixels, more than the limit of {limits.MaxPixels:N0}");
        if (Math.Max(info.Width, info.Height) > limits.MaxSide)
            throw new InvalidImageException(InvalidImageReason.TooManyPixels,
                $"image is {info.Width}×{info.Height}, a side longer than the limit of {limits.MaxSide:N0} pixels");
        checkHeader?.Invoke(info.Width, info.Height);

        ContainerCheck.Complete(format, span);

        Image<TPixel> image;
        try
        {
            image = Image.Load<TPixel>(Config, span);
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new InvalidImageException(InvalidImageReason.Corrupt, $"{format.Name} image could not be decoded: {e.Message}", e);
        }
        try
        {
            image.Mutate(x => x.AutoOrient());
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>Reads at most MaxBytes (+1 to detect excess) from a stream and decodes it.</summary>
    public static Image<Rgb24> Decode(Stream stream, ImageLimits? limits = null) => Decode<Rgb24>(stream, limits);

    public static Image<TPixel> Decode<TPixel>(Stream stream, ImageLimits? limits = null) where TPixel : unmanaged, IPixel<TPixel>
    {
        limits ??= ImageLimits.Default;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limits.MaxBytes) throw TooManyBytes(null, limits);
        }
        return Decode<TPixel>(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), limits);
    }

    /// <summary>Decodes an image file; the size is checked before the file is read.</summary>
    public static Image<Rgb24> Load(string path, ImageLimits? limits = null) => Load<Rgb24>(path, limits);

    public static Image<TPixel> Load<TPixel>(string path, ImageLimits? limits = null, Action<int, int>? checkHeader = null)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        limits ??= ImageLimits.Default;
        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length; // throws FileNotFoundException for a missing file
            if (length > limits.MaxBytes) throw TooManyBytes(length, limits);
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidImageException(InvalidImageReason.Unreadable, $"cannot read image file '{path}': {e.Message}", e);
        }
        return Decode<TPixel>(bytes, limits, checkHeader);
    }

    /// <summary>
    /// Any exception a decoder throws on hostile bytes (format errors, but also index or argument errors from a decoder bug)
    /// means "this image cannot be decoded"; only running out of memory is left to propagate.
    /// </summary>
    static bool IsDecoderFailure(Exception e) => e is not (OutOfMemoryException or InvalidImageException or OperationCanceledException);

    static InvalidImageException TooManyBytes(long? length, ImageLimits limits) =>
        new(InvalidImageReason.TooManyBytes, length is { } l
            ? $"image is {l:N0} bytes, more than the limit of {limits.MaxBytes:N0}"
            : $"image is more than the limit of {limits.MaxBytes:N0} bytes");

    static IImageFormat DetectFormat(ReadOnlySpan<byte> span)
    {
        // Detect with every format ImageSharp knows, to tell "unsupported format" from "not an image".
        IImageFormat? format = Image.DetectFormat(Configuration.Default, span);
        if (format == null)
            throw new InvalidImageException(InvalidImageReason.NotAnImage, "the data is not an image (accepted: PNG, JPEG, WebP, BMP, GIF)");
        if (format is not (PngFormat or JpegFormat or WebpFormat or BmpFormat or GifFormat))
            throw new InvalidImageException(InvalidImageReason.Unsupported, $"{format.Name} images are not accepted (accepted: PNG, JPEG, WebP, BMP, GIF)");
        return format;
    }

    static IImageInfo Identify(byte[] array, IImageFormat format, ReadOnlySpan<byte> span)
    {
        IImageInfo? info;
        try
        {
            using var stream = new MemoryStream(array, writable: false);
            info = Image.Identify(Config, stream);
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            ContainerCheck.Structure(format, span); // a file cut inside its header: say "truncated" rather than "corrupt"
            throw new InvalidImageException(InvalidImageReason.Corrupt, $"{format.Name} header could not be read: {e.Message}", e);
        }
        if (info == null)
        {
            ContainerCheck.Structure(format, span);
            throw new InvalidImageException(InvalidImageReason.Corrupt, $"{format.Name} header could not be read");
        }
        return info;
    }

}
