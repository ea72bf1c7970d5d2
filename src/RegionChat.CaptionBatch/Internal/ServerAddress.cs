namespace RegionChat.CaptionBatch.Internal;

/// <summary>A --server value as a channel address: "host:port" without a scheme means h2c (http://).</summary>
internal static class ServerAddress
{
    public static Uri Parse(string address)
    {
        string a = address.Trim();
        if (!a.Contains("://", StringComparison.Ordinal)) a = "http://" + a;
        if (!Uri.TryCreate(a, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--server: '{address}' is not an http:// or https:// address");
        return uri;
    }
}
