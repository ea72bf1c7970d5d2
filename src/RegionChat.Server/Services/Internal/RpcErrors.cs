using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Inference;

namespace RegionChat.Server.Services.Internal;

/// <summary>Builds the RpcExceptions clients see: a precise status, a clear message, and for bad input a
/// google.rpc.BadRequest with the offending fields (the grpc-dotnet "examples/Error" convention).</summary>
internal static class RpcErrors
{
    /// <summary>A core failure as its gRPC status.</summary>
    public static RpcException From(RegionChatCoreException e) => e.Kind switch
    {
        RegionChatErrorKind.InvalidArgument => WithViolations(Code.InvalidArgument, e.Message, e.Violations),
        RegionChatErrorKind.NotFound => e.Violations.Count > 0 ? WithViolations(Code.NotFound, e.Message, e.Violations) : Plain(StatusCode.NotFound, e.Message),
        RegionChatErrorKind.SessionBusy => Plain(StatusCode.FailedPrecondition, e.Message),
        RegionChatErrorKind.AlreadyExists => Plain(StatusCode.AlreadyExists, e.Message),
        RegionChatErrorKind.FailedPrecondition => e.Violations.Count > 0
            ? WithViolations(Code.FailedPrecondition, e.Message, e.Violations) : Plain(StatusCode.FailedPrecondition, e.Message),
        RegionChatErrorKind.ResourceExhausted => Plain(StatusCode.ResourceExhausted, e.Message),
        RegionChatErrorKind.Unavailable => Plain(StatusCode.Unavailable, e.Message),
        RegionChatErrorKind.ModelUnavailable => Plain(StatusCode.FailedPrecondition, e.Message),
        RegionChatErrorKind.SessionLeased => Plain(StatusCode.Aborted, e.Message),
        _ => Plain(StatusCode.Unknown, e.Message),
    };

    static RpcException WithViolations(Code code, string message, IReadOnlyList<FieldError> violations)
    {
        var badRequest = new BadRequest();
        foreach (var v in violations)
            badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = v.Field, Description = ClientText.Bound(v.Description) });
        // The message travels in a header (grpc-message): bounded, whatever request text it quotes.
        var status = new Google.Rpc.Status { Code = (int)code, Message = ClientText.Bound(message), Details = { Any.Pack(badRequest) } };
        return status.ToRpcException();
    }

    static RpcException Plain(StatusCode code, string message) => new(new Grpc.Core.Status(code, ClientText.Bound(message)));

    public static RpcException Internal(string requestId) =>
        new(new Grpc.Core.Status(StatusCode.Internal, $"internal error (request {requestId}); details are in the server log"));
}
