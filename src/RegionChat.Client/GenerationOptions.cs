using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>How the answer is generated. Every property is optional; unset ones take the server's defaults (greedy
/// decoding, 256 tokens at most).</summary>
public sealed record GenerationOptions
{
    /// <summary>Softmax temperature, ≥ 0; 0 = greedy (argmax).</summary>
    public float? Temperature { get; init; }
    /// <summary>Nucleus sampling threshold in (0, 1].</summary>
    public float? TopP { get; init; }
    /// <summary>Keep only the k most likely tokens; 0 = off.</summary>
    public int? TopK { get; init; }
    /// <summary>Drop tokens below min_p × the best token's probability, in [0, 1].</summary>
    public float? MinP { get; init; }
    /// <summary>Penalty for recently seen tokens, &gt; 0; 1 = off.</summary>
    public float? RepeatPenalty { get; init; }
    /// <summary>How many recent tokens the penalties look at.</summary>
    public int? RepeatLastN { get; init; }
    /// <summary>Subtracted from a token's logit per occurrence among the recent tokens, in [-2, 2]; 0 = off.</summary>
    public float? FrequencyPenalty { get; init; }
    /// <summary>Subtracted from the logit of each token among the recent tokens, in [-2, 2]; 0 = off.</summary>
    public float? PresencePenalty { get; init; }
    /// <summary>Sampling seed: the same seed, prompt and options give the same answer.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Most tokens to generate (finish reason LENGTH when reached).</summary>
    public int? MaxTokens { get; init; }
    /// <summary>Stop strings (not included in the answer); at most 8.</summary>
    public IReadOnlyList<string>? Stop { get; init; }
    /// <summary>Each generated token's log-probability with this many most likely alternatives (0 to 20), on the
    /// deltas (<see cref="ChatAnswer.Logprobs"/>) and captions (<c>CaptionResponse.Logprobs</c>); unset = none.</summary>
    public int? Logprobs { get; init; }
    /// <summary>A shape the answer keeps (one JSON object, one of given choices); unset = free text.</summary>
    public AnswerFormat? Format { get; init; }
    /// <summary>Added to these token ids' logits (OpenAI's logit_bias): each in [-100, 100], -100 all but bans a token and
    /// 100 all but forces it; at most 1024 ids of the model's vocabulary (the ids <c>TokenLogprob.TokenId</c> names).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    internal PbV1.SamplingParams? ToSampling()
    {
        if (Temperature is null && TopP is null && TopK is null && MinP is null && RepeatPenalty is null && RepeatLastN is null && Seed is null
            && Logprobs is null && FrequencyPenalty is null && PresencePenalty is null && Format is null
            && LogitBias is null)
            return null;
        var s = new PbV1.SamplingParams();
        if (Temperature is { } t) s.Temperature = t;
        if (TopP is { } p) s.TopP = p;
        if (TopK is { } k) s.TopK = k;
        if (MinP is { } m) s.MinP = m;
        if (RepeatPenalty is { } r) s.RepeatPenalty = r;
        if (RepeatLastN is { } n) s.RepeatLastN = n;
        if (FrequencyPenalty is { } fp) s.FrequencyPenalty = fp;
        if (PresencePenalty is { } pp) s.PresencePenalty = pp;
        if (Seed is { } seed) s.Seed = seed;
        if (Format is { } format) s.Format = format.ToProto();
        if (LogitBias is { } bias) foreach (var (id, value) in bias) s.LogitBias[id] = value;
        if (Logprobs is { } l) s.Logprobs = l >= 0 ? (uint)l : throw new ArgumentException($"Logprobs must be 0 to 20, got {l}");
        return s;
    }

    internal uint MaxTokensField() => MaxTokens switch
    {
        null => 0,
        < 1 => throw new ArgumentException($"MaxTokens must be at least 1, got {MaxTokens}"),
        { } n => (uint)n,
    };
}
