using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace RegionChat.Server.Internal;

/// <summary>Builds the RpcExceptions clients see: a precise status, a clear message, and for bad input a
/// google.rpc.BadRequest with the offending field (the grpc-dotnet "examples/Error" convention).</summary>
internal static class RpcErrors
{
    public static RpcException InvalidArgument(string field, string description) =>
        InvalidArgument([(field, description)]);

    public static RpcException InvalidArgument(IReadOnlyList<(string Field, string Description)> violations)
    {
        var badRequest = new BadRequest();
        foreach (var (f, d) in violations)
            badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = f, Description = d });
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = string.Join("; ", violations.Select(v => $"{v.Field}: {v.Description}")),
            Details = { Any.Pack(badRequest) },
        };
        return status.ToRpcException();
    }

    public static RpcException NotFound(string message) => new(new Grpc.Core.Status(StatusCode.NotFound, message));
    public static RpcException ResourceExhausted(string message) => new(new Grpc.Core.Status(StatusCode.ResourceExhausted, message));
    public static RpcException Unavailable(string message) => new(new Grpc.Core.Status(StatusCode.Unavailable, message));
    public static RpcException Internal(string requestId) =>
        new(new Grpc.Core.Status(StatusCode.Internal, $"internal error (request {requestId}); details are in the server log"));
}
