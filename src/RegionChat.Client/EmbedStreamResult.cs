using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>The result of one item of an <see cref="EmbedStream"/>: its embeddings, or why it failed (exactly one of the
/// two is set).</summary>
/// <param name="Id">The id the item was sent with.</param>
/// <param name="Embedding">The vectors, as a unary Embed call returns them; null when the item failed.</param>
/// <param name="Error">Why the item failed (the status a unary Embed call would have ended with, field paths under
/// "request.", e.g. "request.regions[0].box"); null when it was embedded.</param>
public sealed record EmbedStreamResult(string Id, PbV1.EmbedResponse? Embedding, CaptionItemError? Error);
