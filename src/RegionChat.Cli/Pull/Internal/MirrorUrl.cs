namespace RegionChat.Cli.Pull.Internal;

/// <summary>`--mirror`: an air-gapped mirror serves the same paths under its own scheme and host.</summary>
internal static class MirrorUrl
{
    /// <summary>Checks a --mirror (or HF_ENDPOINT) value: an absolute http(s) URL without query or fragment.</summary>
    public static Uri Parse(string value, string setting = "--mirror")
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            throw new ArgumentException($"{setting} must be an http(s) base URL such as http://mirror.local:8080, got '{value}'");
        return uri;
    }

    /// <summary>The URL with the mirror's scheme, host and port; a mirror path (e.g. /hf) is put in front of the URL's path.</summary>
    public static Uri Apply(Uri url, Uri mirror) => new UriBuilder(url)
    {
        Scheme = mirror.Scheme,
        Host = mirror.Host,
        Port = mirror.Port,
        Path = mirror.AbsolutePath.TrimEnd('/') + url.AbsolutePath,
    }.Uri;
}
