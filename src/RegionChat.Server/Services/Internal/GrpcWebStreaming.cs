using Grpc.Core;

namespace RegionChat.Server.Services.Internal;

/// <summary>
/// gRPC-Web (browsers, the HTTP/1.1 listener) carries unary and server-streaming calls only: a request body cannot be
/// streamed there. The client-streaming methods refuse it up front with UNIMPLEMENTED and the unary alternative,
/// instead of failing in a way that says nothing about why.
/// </summary>
internal static class GrpcWebStreaming
{
    const string Marker = "regionchat.grpc-web";

    /// <summary>Notes a gRPC-Web request before the gRPC-Web middleware turns it into a gRPC one.</summary>
    public static Task Mark(HttpContext http, RequestDelegate next)
    {
        if (http.Request.ContentType is { } type && type.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
            http.Items[Marker] = true;
        return next(http);
    }

    /// <summary>Throws UNIMPLEMENTED for a gRPC-Web call of a client-streaming <paramref name="method"/>.</summary>
    public static void Refuse(ServerCallContext context, string method, string instead)
    {
        if (context.GetHttpContext().Items.ContainsKey(Marker))
            throw new RpcException(new Status(StatusCode.Unimplemented,
                $"{method} streams its requests, which needs native gRPC over HTTP/2 (the gRPC listener, RegionChat:GrpcUrl); gRPC-Web cannot " +
                $"carry it: {instead}"));
    }
}
