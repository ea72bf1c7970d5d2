using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using RegionChat.Inference;
using RegionChat.Server.Internal;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// What every OpenAI-endpoint call shares with a gRPC call: the API keys, the shutdown refusal, the admission queue,
/// a request id in the logs and the x-request-id header, the request metrics (method "POST /v1/chat/completions", status
/// = the HTTP status or "cancelled"), and errors in OpenAI's JSON shape without stack traces.
/// </summary>
internal sealed class OpenAiCalls(ApiKeyInterceptor keys, RegionChatCore core, ILogger<OpenAiCalls> log)
{
    public Task RunAsync(HttpContext http, string method, bool admit, Func<string, Task> body) =>
        RunAsync<object?>(http, method, admit, () => Task.FromResult<object?>(null), (requestId, _) => body(requestId));

    /// <summary>Like the other overload, with <paramref name="read"/> (reading the request) run after the key check and
    /// before admission: a request takes a queue slot only once it has arrived, so a client that sends its body slowly
    /// holds a socket, never a slot.</summary>
    public async Task RunAsync<T>(HttpContext http, string method, bool admit, Func<Task<T>> read, Func<string, T, Task> body)
    {
        string requestId = RequestIds.From(http.Request.Headers[RequestIds.Header].ToString());
        http.Response.Headers[RequestIds.Header] = requestId;
        // The session header a load balancer routes by is echoed on every response (a new session's own: see the endpoint).
        if (http.Request.Headers[SessionIds.Header].ToString() is { Length: > 0 } session)
            http.Response.Headers[SessionIds.Header] = session;
        using var scope = log.BeginScope(RequestIds.ScopeFormat, method, requestId);
        var sw = Stopwatch.StartNew();
        string status = "200";
        try
        {
            if (!keys.IsAuthorized(http.Request.Headers.Authorization.ToString())) throw OpenAiException.Unauthorized();
            if (core.IsShuttingDown) throw RegionChatCoreException.Unavailable("the server is shutting down");
            var input = await read().ConfigureAwait(false);
            using (core.EnterCall(admit)) await body(requestId, input).ConfigureAwait(false);
            status = http.RequestAborted.IsCancellationRequested ? "cancelled" : http.Response.StatusCode.ToString();
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested && e is not OpenAiException)
        {
            // The client left: whatever failed after that (a write, a cancelled wait) is the disconnect itself.
            status = "cancelled";
            ServerLog.OpenAiCallCancelled(log, method, e.Message);
        }
        catch (Exception e)
        {
            var error = e switch
            {
                OpenAiException o => o,
                RegionChatCoreException c => OpenAiException.From(c, requestId),
                ModelManifestException m => new OpenAiException(500, "server_error", m.Message, code: "model_unavailable"),
                // Kestrel's refusal of a body it cannot read (broken chunked framing, a body cut short): the client's.
                BadHttpRequestException b => new OpenAiException(b.StatusCode, "invalid_request_error", $"the request body is malformed: {b.Message}",
                    code: "invalid_body"),
                _ => OpenAiException.Internal(requestId),
            };
            status = error.Status.ToString();
            if (error.Status >= 500 && e is not (OpenAiException or RegionChatCoreException { Kind: not RegionChatErrorKind.ModelUnavailable }))
                ServerLog.OpenAiCallFailed(log, e, method);
            else ServerLog.OpenAiCallRefused(log, method, error.Status, error.Message);
            await WriteErrorAsync(http, error).ConfigureAwait(false);
        }
        finally
        {
            core.Metrics.RequestFinished(method, status);
            ServerLog.OpenAiCallFinished(log, method, status, sw.Elapsed.TotalMilliseconds);
        }
    }

    static async Task WriteErrorAsync(HttpContext http, OpenAiException error)
    {
        try
        {
            if (http.Response.HasStarted)
            {
                await ChatCompletionResponder.SendErrorEventAsync(http.Response, error).ConfigureAwait(false);
                return;
            }
            http.Response.StatusCode = error.Status;
            http.Response.ContentType = "application/json; charset=utf-8";
            if (error.Status == 401) http.Response.Headers.WWWAuthenticate = "Bearer";
            if (error.Status is 429 or 503) http.Response.Headers.RetryAfter = "1";
            await http.Response.Body.WriteAsync(error.ToJson()).ConfigureAwait(false);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested) { }
    }

    /// <summary>Reads the body up to <paramref name="limit"/> bytes (413 beyond, whether or not Content-Length says so).</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpContext http, long limit)
    {
        if (http.Request.ContentLength > limit) throw OpenAiException.TooLarge(limit);
        // Counted here rather than by Kestrel, so that the answer is an OpenAI-shaped 413.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = null;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        try
        {
            while ((n = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + n > limit) throw OpenAiException.TooLarge(limit);
                buffer.Write(chunk, 0, n);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's minimum body data rate (RegionChat:MinRequestBodyBytesPerSecond); it closes the connection.
            throw new OpenAiException(408, "invalid_request_error", "the request body arrived too slowly (under " +
                "RegionChat:MinRequestBodyBytesPerSecond after RegionChat:RequestBodyGraceSeconds)", code: "request_timeout");
        }
        return buffer.ToArray();
    }
}
