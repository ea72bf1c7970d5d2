namespace RegionChat.Data.Metrics;

/// <summary>One candidate caption and its reference captions, already tokenised.</summary>
/// <param name="Id">Item id (unique within a corpus).</param>
/// <param name="Candidate">Candidate tokens; may be empty.</param>
/// <param name="References">At least one reference, each a token list.</param>
public sealed record CaptionItem(string Id, IReadOnlyList<string> Candidate, IReadOnlyList<IReadOnlyList<string>> References);
