using Grpc.Core;

namespace RegionChat.Client;

/// <summary>
/// A RegionChat call the server refused or could not complete. The message names the gRPC status and the server's
/// explanation ("NotFound: session 's-…' is unknown or expired"); <see cref="StatusCode"/>, the field violations of an
/// InvalidArgument and the server's request id are there for code, and the original <see cref="RpcException"/> (with
/// its trailers) is the <see cref="Exception.InnerException"/>.
/// Cancelling through the caller's token is not an error: it throws <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class RegionChatException : Exception
{
    /// <summary>The failure of <paramref name="method"/>, as the server ended it.</summary>
    /// <param name="method">The RPC ("Chat", "PutImage", …).</param>
    /// <param name="inner">The call's exception, with its status and trailers.</param>
    /// <param name="violations">The field violations of the status details (empty when there are none).</param>
    public RegionChatException(string method, RpcException inner, IReadOnlyList<FieldViolation> violations)
        : this(method, inner, violations, null) { }

    /// <summary>As the public constructor; a non-null <paramref name="detail"/> replaces the status' detail (a connection
    /// failure told in the client's words).</summary>
    internal RegionChatException(string method, RpcException inner, IReadOnlyList<FieldViolation> violations, string? detail)
        : base(Describe(method, inner.StatusCode, detail ?? inner.Status.Detail), inner)
    {
        Method = method;
        StatusCode = inner.StatusCode;
        Detail = detail ?? inner.Status.Detail;
        FieldViolations = violations;
        RequestId = inner.Trailers.GetValue("x-request-id");
    }

    /// <summary>The RPC that failed ("Chat", "PutImage", …).</summary>
    public string Method { get; }

    /// <summary>The gRPC status: NotFound (unknown session, model or image), InvalidArgument (bad input; see
    /// <see cref="FieldViolations"/>), Unauthenticated (missing or wrong API key), ResourceExhausted (queue full: retry
    /// later), Unavailable (server down or shutting down), DeadlineExceeded, …</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The server's explanation; for a server that could not be reached, which address and why.</summary>
    public string Detail { get; }

    /// <summary>For InvalidArgument: each offending request field ("message.region.box") and what is wrong with it.</summary>
    public IReadOnlyList<FieldViolation> FieldViolations { get; }

    /// <summary>The server's id of the request, as in its logs (null when the call never reached the service).</summary>
    public string? RequestId { get; }

    static string Describe(string method, StatusCode code, string detail) =>
        $"RegionChat {method} failed: {code}: {(string.IsNullOrEmpty(detail) ? "(no message)" : detail)}";
}

/// <summary>One invalid field of a request, as the server's google.rpc.BadRequest names it.</summary>
public sealed record FieldViolation(string Field, string Description);
