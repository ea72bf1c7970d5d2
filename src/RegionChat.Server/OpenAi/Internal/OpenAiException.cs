using System.Text.Json;
using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// An error answered in OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>, with its HTTP status.
/// Errors of the serving core (RegionChatExceptions) map onto it, so both APIs report the same problems alike.
/// </summary>
internal sealed class OpenAiException(int status, string type, string message, string? param = null, string? code = null)
    : Exception(ClientText.Bound(message))
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static OpenAiException BadRequest(string message, string? param = null, string? code = null) =>
        new(400, "invalid_request_error", message, param, code);

    public static OpenAiException Unauthorized() => new(401, "authentication_error",
        "missing or wrong API key: send the header \"Authorization: Bearer <key>\"", code: "invalid_api_key");

    public static OpenAiException TooLarge(long limit) => new(413, "invalid_request_error",
        $"the request body is larger than the limit of {limit} bytes (RegionChat:OpenAi:MaxRequestBytes)", code: "request_too_large");

    public static OpenAiException Internal(string requestId) => new(500, "server_error",
        $"internal error (request {requestId}); details are in the server log", code: "internal_error");

    /// <summary>A failure of the serving core in OpenAI's terms.</summary>
    public static OpenAiException From(RegionChatCoreException e, string requestId)
    {
        string detail = e.Message;
        string? field = e.Violations.FirstOrDefault()?.Field;
        return e.Kind switch
        {
            // OpenAI's code for a prompt or answer the context cannot hold: LiteLLM and LangChain trim or fall back on it.
            RegionChatErrorKind.InvalidArgument when e.ContextOverflow => BadRequest(detail, field, "context_length_exceeded"),
            RegionChatErrorKind.InvalidArgument => BadRequest(detail, field),
            RegionChatErrorKind.NotFound when field != null => new(404, "invalid_request_error", detail, field, "not_found"),
            RegionChatErrorKind.NotFound => NotFound(detail),
            RegionChatErrorKind.SessionBusy => new(409, "invalid_request_error", detail, "session_id", "session_busy"),
            RegionChatErrorKind.AlreadyExists => new(409, "invalid_request_error", detail, SessionIds.Header, "session_exists"),
            // A model that cannot do what was asked (no classifier for classify or embeddings) names its field.
            RegionChatErrorKind.FailedPrecondition when field != null => BadRequest(detail, field, field == "model" ? "model_not_supported" : null),
            // The core's only FailedPrecondition of a turn: the session is full (OpenAI's code for a context overflow).
            RegionChatErrorKind.FailedPrecondition => BadRequest(detail, "session_id", "context_length_exceeded"),
            RegionChatErrorKind.ResourceExhausted => new(429, "rate_limit_error", detail, code: "queue_full"),
            RegionChatErrorKind.Unavailable when e.SessionStoreUnavailable => new(503, "unavailable_error", detail, code: "session_store_unavailable"),
            RegionChatErrorKind.Unavailable => new(503, "unavailable_error", detail, code: "server_shutting_down"),
            RegionChatErrorKind.ModelUnavailable => new(500, "server_error", detail, code: "model_unavailable"),
            RegionChatErrorKind.SessionLeased => new(409, "invalid_request_error", detail, "session_id", "session_leased"),
            _ => Internal(requestId),
        };
    }

    /// <summary>A NotFound of the core, by what its message is about ("model '…'", "session '…'", "image '…'").</summary>
    static OpenAiException NotFound(string detail)
    {
        var (param, code) = detail.StartsWith("model ", StringComparison.Ordinal) ? ("model", "model_not_found")
            : detail.StartsWith("session ", StringComparison.Ordinal) ? ("session_id", "session_not_found")
            : detail.StartsWith("image ", StringComparison.Ordinal) ? (null, "image_not_found")
            : ((string?)null, "not_found");
        return new(404, "invalid_request_error", detail, param, code);
    }

    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", Message);
        w.WriteString("type", Type);
        if (Param != null) w.WriteString("param", Param); else w.WriteNull("param");
        if (Code != null) w.WriteString("code", Code); else w.WriteNull("code");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions)) Write(w);
        return buffer.ToArray();
    }
}
