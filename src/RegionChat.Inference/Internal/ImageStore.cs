using System.Security.Cryptography;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Internal;

/// <summary>A stored image: its encoded bytes and header facts.</summary>
internal sealed record StoredImage(string Id, ReadOnlyMemory<byte> Bytes, int Width, int Height);

/// <summary>
/// Content-addressed image store ("sha256:&lt;hex&gt;" of the bytes), LRU-bounded in bytes. Every image is checked
/// against the decoder limits when stored, so a bad image fails when it is stored rather than later.
/// </summary>
internal sealed class ImageStore(long capacityBytes, ImageLimits limits)
{
    readonly ByteBoundedLru<string, StoredImage> images = new(capacityBytes, i => i.Bytes.Length + 256);

    public ImageLimits Limits { get; } = limits;

    public static string IdOf(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Normalises "sha256:HEX" or bare HEX; null when it is not such an id.</summary>
    public static string? NormaliseId(string id)
    {
        string hex = id.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? id[7..] : id;
        return hex.Length == 64 && hex.All(Uri.IsHexDigit) ? "sha256:" + hex.ToLowerInvariant() : null;
    }

    /// <summary>Checks and stores image bytes. Bytes already stored (same content id) are not decoded again; new ones
    /// are decoded fully once, so a bad image fails here (InvalidImageException) rather than later.</summary>
    /// <param name="decoded">Whether the bytes were decoded now (false when they were already stored).</param>
    public StoredImage Put(ReadOnlyMemory<byte> bytes, out bool decoded)
    {
        var stored = PutKeepingPixels(bytes, out var fresh);
        decoded = fresh != null;
        fresh?.Dispose();
        return stored;
    }

    /// <summary>As <see cref="Put(ReadOnlyMemory{byte}, out bool)"/>, handing over the pixels of a new image
    /// (<paramref name="fresh"/>, the caller disposes it; null when the bytes were already stored), so a turn about a new
    /// image does not decode it twice.</summary>
    public StoredImage PutKeepingPixels(ReadOnlyMemory<byte> bytes, out Image<Rgb24>? fresh)
    {
        string id = IdOf(bytes.Span);
        fresh = null;
        if (images.TryGet(id, out var stored)) return stored;
        var image = ImageLoader.Decode(bytes, Limits);
        stored = new StoredImage(id, bytes.ToArray(), image.Width, image.Height);
        images.Set(id, stored);
        fresh = image;
        return stored;
    }

    public bool TryGet(string id, out StoredImage image) => images.TryGet(id, out image);

    public int Count => images.Count;
    public long UsedBytes => images.UsedBytes;
}
