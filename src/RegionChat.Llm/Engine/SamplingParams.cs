namespace RegionChat.Llm.Engine;

/// <summary>
/// How to pick each next token. Order as llama.cpp's default chain: logit biases, penalties (repeat, frequency, presence), top-k,
/// top-p, min-p, temperature, then a seeded draw. Temperature 0 is greedy: the exact argmax of the (penalised) logits.
/// </summary>
public sealed record SamplingParams
{
    public const int MaxStopStrings = 16;
    public const int MaxStopLength = 256;
    public const int MaxLogprobs = 20;
    public const int MaxLogitBias = 1024;
    public const float MaxBias = 100;

    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set whose probability reaches p; 1 keeps all.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens less likely than min-p times the most likely one; 0 keeps all.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>Divides positive logits (multiplies negative ones) of recently seen tokens; 1 is off.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    /// <summary>How many recent tokens (this request's text prompt tokens, then its output) the penalties look at.</summary>
    public int RepeatLastN { get; init; } = 64;
    /// <summary>Subtracted from a token's logit once per time it occurs among the recent tokens (OpenAI's
    /// frequency_penalty, llama.cpp's penalty_freq); 0 is off.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>Subtracted from the logit of every token that occurs among the recent tokens (OpenAI's presence_penalty,
    /// llama.cpp's penalty_present); 0 is off.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>Seed of the draw; null picks one at random.</summary>
    public int? Seed { get; init; }
    public int MaxTokens { get; init; } = 256;
    /// <summary>The caller asked for <see cref="MaxTokens"/>: a request whose sequence has no room for that many is refused
    /// before any prefill. Otherwise MaxTokens is a default, and the answer ends (Length) where the room ends.</summary>
    public bool MaxTokensRequested { get; init; }
    /// <summary>Strings that end the answer; they and anything after them are cut from the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Null: no log-probabilities. N: each generated token's <see cref="TokenLogprob"/>, with the N most likely
    /// tokens of its position (0 to <see cref="MaxLogprobs"/>), on the text pieces that hold it.</summary>
    public int? Logprobs { get; init; }
    /// <summary>Null: free text. Otherwise the shape the answer keeps as it is generated (a JSON object, one of given
    /// choices); the tokens it does not allow are taken out before the rest of the chain.</summary>
    public OutputFormat? OutputFormat { get; init; }
    /// <summary>Added to these token ids' logits before the rest of the chain (OpenAI's logit_bias): each in
    /// [-<see cref="MaxBias"/>, <see cref="MaxBias"/>], where -100 all but bans a token and 100 all but forces it; at most
    /// <see cref="MaxLogitBias"/> ids, each in the model's vocabulary (checked when the request is made).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }
    /// <summary>Keep generating past end-of-generation tokens (benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    public static SamplingParams Greedy(int maxTokens = 256) => new() { Temperature = 0, MaxTokens = maxTokens };

    public bool IsGreedy => Temperature == 0f;

    /// <summary>Throws ArgumentException (ParamName = the field) for NaN, negative or out-of-range values.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0 || Temperature > 100)
            throw Bad(nameof(Temperature), Temperature, "must be a finite number in [0, 100] (0 = greedy)");
        if (TopK < 0) throw Bad(nameof(TopK), TopK, "must be >= 0 (0 = off)");
        if (!float.IsFinite(TopP) || TopP <= 0 || TopP > 1) throw Bad(nameof(TopP), TopP, "must be in (0, 1]");
        if (!float.IsFinite(MinP) || MinP < 0 || MinP > 1) throw Bad(nameof(MinP), MinP, "must be in [0, 1]");
        if (!float.IsFinite(RepeatPenalty) || RepeatPenalty <= 0 || RepeatPenalty > 100)
            throw Bad(nameof(RepeatPenalty), RepeatPenalty, "must be a finite number in (0, 100] (1 = off)");
        if (RepeatLastN < 0 || RepeatLastN > 1 << 20) throw Bad(nameof(RepeatLastN), RepeatLastN, "must be in [0, 1048576]");
        if (!float.IsFinite(FrequencyPenalty) || Math.Abs(FrequencyPenalty) > 2)
            throw Bad(nameof(FrequencyPenalty), FrequencyPenalty, "must be a finite number in [-2, 2] (0 = off)");
        if (!float.IsFinite(PresencePenalty) || Math.Abs(PresencePenalty) > 2)
            throw Bad(nameof(PresencePenalty), PresencePenalty, "must be a finite number in [-2, 2] (0 = off)");
        if (MaxTokens < 1 || MaxTokens > 1 << 20) throw Bad(nameof(MaxTokens), MaxTokens, "must be in [1, 1048576]");
        if (Logprobs is < 0 or > MaxLogprobs) throw Bad(nameof(Logprobs), Logprobs, $"must be in [0, {MaxLogprobs}] (null = off)");
        if (Stop is null) throw new ArgumentNullException(nameof(Stop));
        OutputFormat?.Validate();
        if (LogitBias is { } bias)
        {
            if (bias.Count > MaxLogitBias) throw Bad(nameof(LogitBias), bias.Count, $"holds at most {MaxLogitBias} token ids");
            foreach (var (id, value) in bias)
                if (id < 0 || !float.IsFinite(value) || Math.Abs(value) > MaxBias)
                    throw new ArgumentException($"logit bias of token {id}: the id must be >= 0 and the bias a finite number in " +
                                                $"[-{MaxBias}, {MaxBias}], got {value}", nameof(LogitBias));
        }
        if (Stop.Count > MaxStopStrings) throw Bad(nameof(Stop), Stop.Count, $"at most {MaxStopStrings} stop strings");
        foreach (string s in Stop)
            if (string.IsNullOrEmpty(s) || s.Length > MaxStopLength)
                throw new ArgumentException($"each stop string must have 1 to {MaxStopLength} characters", nameof(Stop));
    }

    static ArgumentOutOfRangeException Bad(string name, object value, string rule) =>
        new(name, value, $"sampling parameter {name} {rule}, got {value}");
}
