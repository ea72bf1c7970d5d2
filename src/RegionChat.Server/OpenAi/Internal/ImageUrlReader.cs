using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// The bytes an image_url names: a base64 data URL always; a local file only under the configured folder
/// (<see cref="OpenAiSettings.AllowedLocalImageFolder"/>). The server never fetches remote URLs: a request must not make
/// it reach into other machines.
/// </summary>
internal sealed class ImageUrlReader(ServerOptions options)
{
    readonly string? folder = options.OpenAi.AllowedLocalImageFolder is { Length: > 0 } f ? RealPath(Path.GetFullPath(f)) : null;

    public byte[] Read(string url, string field)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return DataUrl.Decode(url, options.MaxImageBytes, field, "an image");
        if (url.StartsWith("file:", StringComparison.OrdinalIgnoreCase) || !HasScheme(url)) return LocalFile(url, field);
        throw OpenAiException.BadRequest(
            "only data: URLs (data:image/png;base64,…) are accepted" + (folder != null ? ", and local files under the allowed folder" : "") +
            "; the server does not fetch remote images", field, "unsupported_image_url");
    }

    static bool HasScheme(string url)
    {
        int colon = url.IndexOf(':');
        return colon > 0 && url[..colon].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.');
    }

    byte[] LocalFile(string url, string field)
    {
        if (folder == null)
            throw OpenAiException.BadRequest("local image files are not enabled on this server (RegionChat:OpenAi:AllowedLocalImageFolder); send a data: URL",
                field, "unsupported_image_url");
        string path;
        if (url.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.IsFile || !string.IsNullOrEmpty(uri.Host) && uri.Host != "localhost")
                throw OpenAiException.BadRequest("a file URL must be file:///absolute/path or file://localhost/absolute/path", field);
            // Not LocalPath: with a host (file://localhost/…) that is a UNC path, "//localhost/…".
            path = Uri.UnescapeDataString(uri.AbsolutePath);
        }
        else path = Path.Combine(folder, url);

        string real;
        try { real = RealPath(Path.GetFullPath(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw OpenAiException.BadRequest("the image file cannot be found or read", field);
        }
        if (!real.StartsWith(folder.EndsWith('/') ? folder : folder + "/", StringComparison.Ordinal))
            throw OpenAiException.BadRequest("the image file is outside the folder local images may come from", field);
        var info = new FileInfo(real);
        // Checked before opening: opening a FIFO blocks until a writer comes (the request held its slot for good).
        if (UnixFileType.Of(real) is { } type && type != UnixFileType.Regular || Directory.Exists(real))
            throw OpenAiException.BadRequest("the image path is not a regular file (a folder, FIFO, socket or device)", field);
        if (!info.Exists) throw OpenAiException.BadRequest("the image file cannot be found or read", field);
        // FIFOs, sockets and devices report 0 bytes too: a guard should statx be missing.
        if (info.Length == 0) throw OpenAiException.BadRequest("the image file is empty", field);
        if (info.Length > options.MaxImageBytes)
            throw OpenAiException.BadRequest(ImageSizeLimit.TooLarge(info.Length, options.MaxImageBytes), field);
        try { return File.ReadAllBytes(real); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OpenAiException.BadRequest("the image file cannot be found or read", field);
        }
    }

    /// <summary>The path with every symbolic link resolved, component by component, so that a link inside the folder
    /// cannot lead outside it.</summary>
    static string RealPath(string fullPath, int depth = 0)
    {
        if (depth > 32) throw new IOException("too many levels of symbolic links");
        string result = Path.GetPathRoot(fullPath) ?? "/";
        foreach (string part in fullPath[result.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(result, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
                next = RealPath(Path.GetFullPath(target, result), depth + 1);
            result = next;
        }
        return result;
    }
}

/// <summary>RFC 2397 data URLs with base64 payloads.</summary>
internal static class DataUrl
{
    /// <summary>Decodes "data:[type];base64,PAYLOAD" after checking the payload's size against <paramref name="maxBytes"/>.</summary>
    public static byte[] Decode(string url, long maxBytes, string field, string what)
    {
        int comma = url.IndexOf(',');
        if (comma < 0) throw OpenAiException.BadRequest($"{what} data URL needs a comma before its data", field);
        string header = url[5..comma];
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw OpenAiException.BadRequest($"{what} data URL must be base64 (data:image/png;base64,…)", field);
        int length = url.Length - comma - 1;
        // The decoded size of well-formed base64 ('=' padding excluded), known before decoding.
        long approx = (long)length / 4 * 3 - (url.EndsWith("==", StringComparison.Ordinal) ? 2 : url.EndsWith('=') ? 1 : 0);
        if (approx > maxBytes) throw OpenAiException.BadRequest(what == "an image" ? ImageSizeLimit.TooLarge(approx, maxBytes)
            : $"{what} is {approx:N0} bytes, over the limit of {maxBytes:N0} bytes ({ImageSizeLimit.Setting})", field);
        try { return Convert.FromBase64String(url[(comma + 1)..]); }
        catch (FormatException) { throw OpenAiException.BadRequest($"{what} data URL's data is not valid base64", field); }
    }
}
