using RegionChat.Client;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>A --server value as a client address: "host:port" without a scheme means h2c (http://).</summary>
internal static class ServerAddress
{
    public static Uri Parse(string address)
    {
        try { return RegionChatClient.ParseAddress(address); }
        catch (ArgumentException e) { throw new ArgumentException($"--server: {e.Message}", e); }
    }
}
