using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>An image file as the job knows it: its content id (the same "sha256:…" the server computes), or why it
/// cannot be used; <paramref name="Transient"/>: a read that failed (EIO, a stale NFS handle) may work when tried again.</summary>
internal sealed record LocalImage(string Path, string? ContentId, long Length, string? Error, bool Transient = false);

/// <summary>
/// Hashes each image file once per job (many regions usually share an image), so identical images are uploaded once
/// per server whatever their paths.
/// </summary>
internal sealed class LocalImages(Func<string, Stream>? open = null)
{
    // How a file is opened for hashing (a test gives one whose reads fail).
    readonly Func<string, Stream> open = open ?? (path => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));

    /// <summary>Largest image file sent (the server applies its own, usually smaller, limit).</summary>
    public const long MaxFileBytes = 256L << 20;

    readonly ConcurrentDictionary<string, Lazy<Task<LocalImage>>> byPath = new(StringComparer.Ordinal);

    public async Task<LocalImage> GetAsync(string path)
    {
        var entry = byPath.GetOrAdd(path, p => new Lazy<Task<LocalImage>>(() => Task.Run(() => HashAsync(p, open))));
        var image = await entry.Value.ConfigureAwait(false);
        if (image.Transient) byPath.TryRemove(KeyValuePair.Create(path, entry)); // read again next time
        return image;
    }

    /// <summary>A read failure that is not the file's own lasting fault (missing, forbidden): a disk or network file
    /// system hiccup, worth trying again rather than an error record.</summary>
    public static bool IsTransient(Exception e) =>
        e is IOException and not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException or EndOfStreamException);

    static async Task<LocalImage> HashAsync(string path, Func<string, Stream> open)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return new LocalImage(path, null, 0, $"image: file '{path}' not found");
            if (info.Length == 0) return new LocalImage(path, null, 0, $"image: file '{path}' is empty");
            if (info.Length > MaxFileBytes) return new LocalImage(path, null, info.Length,
                $"image: file '{path}' is {info.Length} bytes, more than {MaxFileBytes}");
            await using var stream = open(path);
            byte[] hash = await SHA256.HashDataAsync(stream).ConfigureAwait(false);
            return new LocalImage(path, "sha256:" + Convert.ToHexStringLower(hash), info.Length, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new LocalImage(path, null, 0, $"image: cannot read '{path}': {e.Message}", IsTransient(e));
        }
    }
}
