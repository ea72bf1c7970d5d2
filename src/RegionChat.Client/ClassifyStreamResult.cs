using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>The result of one item of a <see cref="ClassifyStream"/>: its classification, or why it failed (exactly one of
/// the two is set).</summary>
/// <param name="Id">The id the item was sent with.</param>
/// <param name="Classification">The labels per region, as a unary Classify call returns them; null when the item failed.</param>
/// <param name="Error">Why the item failed (the status a unary Classify call would have ended with, field paths under
/// "request.", e.g. "request.labels[1]"); null when it was classified.</param>
public sealed record ClassifyStreamResult(string Id, PbV1.ClassifyResponse? Classification, CaptionItemError? Error);
