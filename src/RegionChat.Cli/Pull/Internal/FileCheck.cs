using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RegionChat.Cli.Pull.Internal;

/// <summary>What a downloaded file must be before it is moved into place: the manifest's size and SHA-256, and never
/// an HTML page (what a login wall or a wrong URL returns with status 200).</summary>
internal static class FileCheck
{
    /// <summary>Null when <paramref name="path"/> is the file the manifest describes; otherwise why not.
    /// <paramref name="sha256"/> is the file's hash, computed when the manifest has one to compare or <paramref name="hashAlways"/>.</summary>
    public static async Task<(string? Problem, string? Sha256)> CheckAsync(string path, long? bytes, string? sha256, bool hashAlways,
        CancellationToken cancellation)
    {
        long length = new FileInfo(path).Length;
        if (LooksLikeHtml(path)) return ("is an HTML page, not the file (a wrong URL, or a site that wants a login?)", null);
        if (bytes is { } expected && length != expected)
            return (string.Create(CultureInfo.InvariantCulture,
                $"has {length:N0} bytes, the manifest says {expected:N0}{(length < expected ? " (a short file)" : "")}"), null);
        if (sha256 == null && !hashAlways) return (null, null);
        string actual = await Sha256Async(path, cancellation);
        if (sha256 != null && !string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
            return ($"has SHA-256 {actual}, the manifest says {sha256.ToLowerInvariant()}", actual);
        return (null, actual);
    }

    public static async Task<string> Sha256Async(string path, CancellationToken cancellation)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellation));
    }

    static bool LooksLikeHtml(string path)
    {
        var head = new byte[256];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        string text = Encoding.ASCII.GetString(head, 0, n).TrimStart().ToLowerInvariant();
        return text.StartsWith("<!doctype html", StringComparison.Ordinal) || text.StartsWith("<html", StringComparison.Ordinal);
    }
}
