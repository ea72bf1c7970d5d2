using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>
/// A call's request id: the caller's own <c>x-request-id</c> when it sends a usable one (as vLLM and most proxies honour
/// it, so one id follows a request from the caller through nginx into these logs), else a new "r-…" one.
/// </summary>
internal static class RequestIds
{
    public const string Header = "x-request-id";
    public const int MaxLength = 128;
    /// <summary>The logging scope of a call: the console formatter finds the id by it.</summary>
    public const string ScopeFormat = "{Method} {RequestId}";

    /// <summary>The caller's id if it is 1–<see cref="MaxLength"/> visible ASCII characters; otherwise a new one (an
    /// unusable header is ignored, not refused: it is only for correlation).</summary>
    public static string From(string? header) =>
        header is { Length: > 0 and <= MaxLength } && header.All(c => c is > ' ' and <= '~') ? header : RegionChatCore.NewRequestId();
}
