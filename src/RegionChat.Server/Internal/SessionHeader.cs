using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>The x-regionchat-session header (<see cref="SessionIds.Header"/>) on a chat request: the session id a load
/// balancer routes by. On a turn that continues a session it must match the request's session id; on a first turn it is
/// the id the new session takes (the core checks and reserves it).</summary>
internal static class SessionHeader
{
    /// <summary>The id a new session is to take ("" = the core's choice); throws InvalidArgument when the header and the
    /// request's session id disagree.</summary>
    public static string NewSessionId(string? header, string sessionId, string sessionField)
    {
        if (string.IsNullOrEmpty(header)) return "";
        if (sessionId.Length == 0) return header;
        if (header != sessionId)
            throw RegionChatCoreException.InvalidArgument(SessionIds.Header, $"is '{ClientText.Quote(header)}' but {sessionField} is " +
                $"'{ClientText.Quote(sessionId)}': a turn that continues a session sends its id in both (or leaves the header out)");
        return "";
    }
}
