using Grpc.Core;
using RegionChat.Client;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>How the job treats a gRPC status: retry (the server or the network may do better next time) or record an
/// error (the item itself is wrong, so retrying would only fail again).</summary>
internal static class RpcOutcomes
{
    /// <summary>Statuses worth retrying: the server is going away, overloaded or broke the call, not the item.</summary>
    public static bool IsTransient(StatusCode code) => code is StatusCode.Unavailable or StatusCode.ResourceExhausted
        or StatusCode.Aborted or StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Cancelled;

    /// <summary>The server no longer holds an image the job uploaded (its image store is an LRU): upload it again.</summary>
    public static bool IsImageGone(StatusCode code, string message) =>
        code == StatusCode.NotFound && message.StartsWith("image ", StringComparison.Ordinal);

    /// <summary>The key is wrong or missing: no item can succeed on any server, so the job stops.</summary>
    public static bool IsRefused(StatusCode code) => code is StatusCode.Unauthenticated or StatusCode.PermissionDenied;

    /// <summary>"INVALID_ARGUMENT: message", the form error records use.</summary>
    public static string Describe(StatusCode code, string message) =>
        $"{Name(code)}: {(string.IsNullOrEmpty(message) ? "(no message)" : message)}";

    public static string Describe(RegionChatException e) => Describe(e.StatusCode, e.Detail);

    /// <summary>The canonical upper-case name (as in google.rpc.Code), e.g. INVALID_ARGUMENT.</summary>
    public static string Name(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
