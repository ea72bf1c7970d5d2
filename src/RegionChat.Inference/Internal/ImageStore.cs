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
/// <remarks>New images are decoded at most <c>maxDecodes</c> at a time (0: one per core). A decode is CPU work that holds
/// the whole image's pixels and the decoder's buffers (hundreds of MB near MaxImagePixels), so more at once than cores
/// finish no sooner and only hold more memory; uploads are not admitted (a slow body would hold a queue slot), so for
/// them this is the bound.</remarks>
internal sealed class ImageStore(long capacityBytes, ImageLimits limits, int maxDecodes = 0)
{
    readonly ByteBoundedLru<string, StoredImage> images = new(capacityBytes, i => i.Bytes.Length + 256);
    readonly SemaphoreSlim decodeSlots = new(maxDecodes > 0 ? maxDecodes : Math.Max(1, Environment.ProcessorCount));
    int decoding, peakDecoding;

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
    /// <returns>The stored image, and whether its bytes were decoded now (false when they were already stored).</returns>
    public async Task<(StoredImage Stored, bool Decoded)> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        var (stored, fresh) = await PutKeepingPixelsAsync(bytes, ct).ConfigureAwait(false);
        fresh?.Dispose();
        return (stored, fresh != null);
    }

    /// <summary>As <see cref="PutAsync"/>, handing over the pixels of a new image (Fresh, the caller disposes it; null
    /// when the bytes were already stored), so a turn about a new image does not decode it twice.</summary>
    public async Task<(StoredImage Stored, Image<Rgb24>? Fresh)> PutKeepingPixelsAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        string id = IdOf(bytes.Span);
        if (images.TryGet(id, out var stored)) return (stored, null);
        await decodeSlots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (images.TryGet(id, out stored)) return (stored, null); // another call decoded the same bytes meanwhile
            int now = Interlocked.Increment(ref decoding);
            for (int peak = Volatile.Read(ref peakDecoding); now > peak; peak = Volatile.Read(ref peakDecoding))
                Interlocked.CompareExchange(ref peakDecoding, now, peak);
            try
            {
                var image = ImageLoader.Decode(bytes, Limits);
                stored = new StoredImage(id, bytes.ToArray(), image.Width, image.Height);
                images.Set(id, stored);
                return (stored, image);
            }
            finally { Interlocked.Decrement(ref decoding); }
        }
        finally { decodeSlots.Release(); }
    }

    /// <summary>The most decodes that ran at once since the store was made (at most the decode slots).</summary>
    internal int PeakDecoding => Volatile.Read(ref peakDecoding);

    public bool TryGet(string id, out StoredImage image) => images.TryGet(id, out image);

    public int Count => images.Count;
    public long UsedBytes => images.UsedBytes;
}
