using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>An image file as the job knows it: its content id (the same "sha256:…" the server computes), or why it
/// cannot be used.</summary>
internal sealed record LocalImage(string Path, string? ContentId, long Length, string? Error);

/// <summary>
/// Hashes each image file once per job (many regions usually share an image), so identical images are uploaded once
/// per server whatever their paths.
/// </summary>
internal sealed class LocalImages
{
    /// <summary>Largest image file sent (the server applies its own, usually smaller, limit).</summary>
    public const long MaxFileBytes = 256L << 20;

    readonly ConcurrentDictionary<string, Lazy<Task<LocalImage>>> byPath = new(StringComparer.Ordinal);

    public Task<LocalImage> GetAsync(string path) =>
        byPath.GetOrAdd(path, p => new Lazy<Task<LocalImage>>(() => Task.Run(() => HashAsync(p)))).Value;

    static async Task<LocalImage> HashAsync(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return new LocalImage(path, null, 0, $"image: file '{path}' not found");
            if (info.Length == 0) return new LocalImage(path, null, 0, $"image: file '{path}' is empty");
            if (info.Length > MaxFileBytes) return new LocalImage(path, null, info.Length,
                $"image: file '{path}' is {info.Length} bytes, more than {MaxFileBytes}");
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            byte[] hash = await SHA256.HashDataAsync(stream).ConfigureAwait(false);
            return new LocalImage(path, "sha256:" + Convert.ToHexStringLower(hash), info.Length, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new LocalImage(path, null, 0, $"image: cannot read '{path}': {e.Message}");
        }
    }
}
