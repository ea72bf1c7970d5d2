namespace RegionChat.Llm.Engine;

/// <summary>
/// A generated token's log-probability under the model: the log-softmax of its logits row, before the repeat penalty,
/// temperature and truncation pick the token (what vLLM reports by default). <see cref="Top"/> holds the most likely
/// tokens of that row, best first, when the request asked for alternatives (their own <see cref="Top"/> is empty).
/// </summary>
/// <param name="Bytes">The token's text as bytes: a token may hold part of a UTF-8 character.</param>
public sealed record TokenLogprob(int Token, byte[] Bytes, float Logprob)
{
    public IReadOnlyList<TokenLogprob> Top { get; init; } = [];
}
