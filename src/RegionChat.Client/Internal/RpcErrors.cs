using Google.Rpc;
using Grpc.Core;

namespace RegionChat.Client.Internal;

/// <summary>Turns the RpcExceptions of calls into <see cref="RegionChatException"/>s, and a cancel by the caller's token
/// into <see cref="OperationCanceledException"/> (what .NET callers, and Microsoft.Extensions.AI, expect).</summary>
internal static class RpcErrors
{
    const string StatusDetailsTrailer = "grpc-status-details-bin";

    /// <summary>The exception a failed call throws; <paramref name="address"/> (the server the call went to) is named
    /// when the call could not connect (grpc-dotnet says only "Error connecting to subchannel.").</summary>
    public static Exception Map(string method, RpcException e, CancellationToken ct, Uri? address = null)
    {
        if (ct.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled) return new OperationCanceledException("the call was cancelled", e, ct);
        return new RegionChatException(method, e, Violations(e), address != null ? ConnectFailure(e, address) : null);
    }

    /// <summary>A call whose server broke the protocol (a stream without its first or last event: a proxy that ended it
    /// early, or not a RegionChat server), as an Internal failure like any other the caller catches.</summary>
    public static RegionChatException Protocol(string method, string message) =>
        new(method, new RpcException(new Grpc.Core.Status(StatusCode.Internal, message)), []);

    /// <summary>What an UNAVAILABLE that never reached a server means, naming the address; null for other failures.</summary>
    static string? ConnectFailure(RpcException e, Uri address)
    {
        if (e.StatusCode != StatusCode.Unavailable || e.Status.DebugException is not { } cause) return null;
        var socket = Inner<System.Net.Sockets.SocketException>(cause);
        if (socket == null && Inner<HttpRequestException>(cause) == null) return null;
        string server = address.GetLeftPart(UriPartial.Authority);
        string why = socket?.SocketErrorCode switch
        {
            System.Net.Sockets.SocketError.ConnectionRefused => "connection refused: no server listens there; is it running, on this port?",
            System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData => "the host name does not resolve",
            System.Net.Sockets.SocketError.TimedOut => "the connection timed out: a firewall, or the wrong host?",
            System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostUnreachable => "the host is unreachable",
            _ => (socket?.Message ?? Inner<HttpRequestException>(cause)!.Message) +
                 " (is this the gRPC listener? the HTTP/1.1 one, port 8080 by default, speaks gRPC-Web only)",
        };
        return $"cannot reach a RegionChat server at {server}: {why}";
    }

    static T? Inner<T>(Exception? e) where T : Exception
    {
        for (; e != null; e = e.InnerException)
            if (e is T found) return found;
        return null;
    }

    /// <summary>The google.rpc.BadRequest field violations the server puts in the status details trailer.</summary>
    static List<FieldViolation> Violations(RpcException e)
    {
        var entry = e.Trailers.Get(StatusDetailsTrailer);
        if (entry is not { IsBinary: true }) return [];
        try
        {
            return Violations(Google.Rpc.Status.Parser.ParseFrom(entry.ValueBytes));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            // A malformed details trailer leaves only the status and message, which still say what went wrong.
            return [];
        }
    }

    /// <summary>The google.rpc.BadRequest field violations among a status' details.</summary>
    public static List<FieldViolation> Violations(Google.Rpc.Status status)
    {
        var list = new List<FieldViolation>();
        foreach (var any in status.Details)
            if (any.TryUnpack(out BadRequest badRequest))
                list.AddRange(badRequest.FieldViolations.Select(v => new FieldViolation(v.Field, v.Description)));
        return list;
    }

    /// <summary>Whether a NotFound names an image the request referred to by id: the server dropped it from its store.</summary>
    public static bool IsImageGone(StatusCode code, string detail, string? imageId) =>
        code == StatusCode.NotFound && !string.IsNullOrEmpty(imageId) && detail.Contains(imageId, StringComparison.Ordinal);
}
