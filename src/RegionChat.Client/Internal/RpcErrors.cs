using Google.Rpc;
using Grpc.Core;

namespace RegionChat.Client.Internal;

/// <summary>Turns the RpcExceptions of calls into <see cref="RegionChatException"/>s, and a cancel by the caller's token
/// into <see cref="OperationCanceledException"/> (what .NET callers, and Microsoft.Extensions.AI, expect).</summary>
internal static class RpcErrors
{
    const string StatusDetailsTrailer = "grpc-status-details-bin";

    public static Exception Map(string method, RpcException e, CancellationToken ct)
    {
        if (ct.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled) return new OperationCanceledException("the call was cancelled", e, ct);
        return new RegionChatException(method, e, Violations(e));
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
