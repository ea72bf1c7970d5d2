using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Server.Internal;

/// <summary>A stored image: its encoded bytes and header facts.</summary>
internal sealed record StoredImage(string Id, ReadOnlyMemory<byte> Bytes, int Width, int Height);

/// <summary>
/// Content-addressed image store ("sha256:&lt;hex&gt;" of the bytes), LRU-bounded in bytes. Every image is checked
/// against the decoder limits when stored, so a bad image fails at PutImage rather than later.
/// </summary>
internal sealed class ImageStore(IOptions<ServerOptions> options)
{
    readonly ByteBoundedLru<string, StoredImage> images = new(options.Value.ImageStoreBytes, i => i.Bytes.Length + 256);

    public ImageLimits Limits { get; } = new() { MaxBytes = options.Value.MaxImageBytes, MaxPixels = options.Value.MaxImagePixels };

    public static string IdOf(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Normalises "sha256:HEX" or bare HEX; null when it is not such an id.</summary>
    public static string? NormaliseId(string id)
    {
        string hex = id.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? id[7..] : id;
        return hex.Length == 64 && hex.All(Uri.IsHexDigit) ? "sha256:" + hex.ToLowerInvariant() : null;
    }

    /// <summary>Checks and stores image bytes (decoding them fully once); throws InvalidImageException when bad.</summary>
    public (StoredImage Image, Image<Rgb24> Decoded) Put(ReadOnlyMemory<byte> bytes)
    {
        var decoded = ImageLoader.Decode(bytes, Limits);
        string id = IdOf(bytes.Span);
        if (!images.TryGet(id, out var stored))
        {
            stored = new StoredImage(id, bytes.ToArray(), decoded.Width, decoded.Height);
            images.Set(id, stored);
        }
        return (stored, decoded);
    }

    public bool TryGet(string id, out StoredImage image) => images.TryGet(id, out image);

    public static Image<Rgb24> Decode(StoredImage image, ImageLimits limits) => ImageLoader.Decode(image.Bytes, limits);

    public int Count => images.Count;
    public long UsedBytes => images.UsedBytes;
}
