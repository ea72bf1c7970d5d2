namespace RegionChat.Inference;

/// <summary>
/// A generated token's log-probability (<see cref="SamplingOptions.Logprobs"/>): the log-softmax of the model's logits at
/// its position, before the repeat penalty, temperature and top-k / top-p / min-p pick the token. <see cref="Top"/>: the
/// position's most likely tokens, best first (their own Top is empty).
/// </summary>
/// <param name="Bytes">The token's text as bytes: a token may hold part of a UTF-8 character.</param>
public sealed record TokenLogprob(int TokenId, byte[] Bytes, float Logprob)
{
    public IReadOnlyList<TokenLogprob> Top { get; init; } = [];

    internal static TokenLogprob From(Llm.Engine.TokenLogprob l) => new(l.Token, l.Bytes, l.Logprob) { Top = l.Top.Select(From).ToArray() };
}
