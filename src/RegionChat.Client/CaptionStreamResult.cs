using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>The result of one item of a <see cref="CaptionStream"/>: its caption, or why it failed (exactly one of the
/// two is set).</summary>
/// <param name="Id">The id the item was sent with.</param>
/// <param name="Caption">The caption, as a unary Caption call returns it; null when the item failed.</param>
/// <param name="Error">Why the item failed; null when it was captioned.</param>
public sealed record CaptionStreamResult(string Id, PbV1.CaptionResponse? Caption, CaptionItemError? Error);

/// <summary>Why one item of a <see cref="CaptionStream"/> (or a <see cref="ClassifyStream"/>, an <see cref="EmbedStream"/>)
/// failed: the status a unary Caption (Classify, Embed) call would have ended with. The stream goes on with the other items.</summary>
/// <param name="StatusCode">The gRPC status: InvalidArgument (a bad region, image or option; see
/// <paramref name="FieldViolations"/>), NotFound (unknown model or image id), ResourceExhausted, Unavailable, ….</param>
/// <param name="Detail">The server's explanation.</param>
/// <param name="FieldViolations">For InvalidArgument: each offending field of the item's request and what is wrong.</param>
public sealed record CaptionItemError(StatusCode StatusCode, string Detail, IReadOnlyList<FieldViolation> FieldViolations)
{
    /// <summary>"InvalidArgument: request.region.box: …", the form <see cref="RegionChatException"/> messages use.</summary>
    public override string ToString() => $"{StatusCode}: {(string.IsNullOrEmpty(Detail) ? "(no message)" : Detail)}";
}
