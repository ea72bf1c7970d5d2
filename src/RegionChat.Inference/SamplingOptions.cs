using System.Text;
using RegionChat.Llm.Engine;

namespace RegionChat.Inference;

/// <summary>
/// How a turn picks its tokens, as a request states it: unset fields take the core's defaults, which are defined here
/// once for every caller (greedy; no top-k, top-p, min-p or penalties; max tokens = the core's default).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>0 (the default) is greedy.</summary>
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    /// <summary>0 (the default) is off.</summary>
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    /// <summary>1 (the default) is off.</summary>
    public float? RepeatPenalty { get; init; }
    public int? RepeatLastN { get; init; }
    /// <summary>0 (the default) is off; in [-2, 2], over the last <see cref="RepeatLastN"/> tokens.</summary>
    public float? FrequencyPenalty { get; init; }
    /// <summary>0 (the default) is off; in [-2, 2], over the last <see cref="RepeatLastN"/> tokens.</summary>
    public float? PresencePenalty { get; init; }
    public ulong? Seed { get; init; }
    /// <summary>null or 0 = <see cref="RegionChatCoreOptions.DefaultMaxTokens"/>.</summary>
    public long? MaxTokens { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Null (the default): no log-probabilities. N: each generated token's log-probability with the N most
    /// likely tokens of its position (0 to <see cref="MaxLogprobs"/>), on <see cref="TurnText.Logprobs"/>.</summary>
    public int? Logprobs { get; init; }
    /// <summary>Null (the default): free text. Otherwise the shape the answer keeps (field "sampling.format").</summary>
    public AnswerFormat? Format { get; init; }
    /// <summary>Null (the default): none. Otherwise added to these token ids' logits before the rest of the chain
    /// (OpenAI's logit_bias): each in [-100, 100], at most <see cref="MaxLogitBias"/> ids of the model's vocabulary
    /// (fields "sampling.logit_bias", "sampling.logit_bias[ID]").</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    public const float DefaultTemperature = 0f, DefaultTopP = 1f, DefaultMinP = 0f, DefaultRepeatPenalty = 1f;
    public const int DefaultTopK = 0, DefaultRepeatLastN = 64, MaxStopStrings = 8, MaxStopBytes = 64, MaxLogprobs = SamplingParams.MaxLogprobs,
        MaxLogitBias = SamplingParams.MaxLogitBias;

    /// <summary>The engine's parameters, with a violation (field, description) reported for each bad value.</summary>
    internal SamplingParams Resolve(RegionChatCoreOptions limits, Action<string, string> violation)
    {
        float temperature = Temperature ?? DefaultTemperature;
        float topP = TopP ?? DefaultTopP;
        int topK = TopK ?? DefaultTopK;
        float minP = MinP ?? DefaultMinP;
        float repeat = RepeatPenalty ?? DefaultRepeatPenalty;
        int lastN = RepeatLastN ?? DefaultRepeatLastN;
        float frequency = FrequencyPenalty ?? 0, presence = PresencePenalty ?? 0;
        if (!float.IsFinite(temperature) || temperature < 0 || temperature > 100) violation("sampling.temperature",
            $"must be a finite number in [0, 100] (0 = greedy), got {temperature}");
        if (!float.IsFinite(topP) || topP <= 0 || topP > 1) violation("sampling.top_p", $"must be in (0, 1], got {topP}");
        if (topK < 0) violation("sampling.top_k", $"must be >= 0 (0 = off), got {topK}");
        if (!float.IsFinite(minP) || minP < 0 || minP > 1) violation("sampling.min_p", $"must be in [0, 1], got {minP}");
        if (!float.IsFinite(repeat) || repeat <= 0 || repeat > 100) violation("sampling.repeat_penalty",
            $"must be a finite number in (0, 100] (1 = off), got {repeat}");
        if (lastN < 0 || lastN > 1 << 20) violation("sampling.repeat_last_n", $"must be in [0, 1048576], got {lastN}");
        if (!float.IsFinite(frequency) || Math.Abs(frequency) > 2) violation("sampling.frequency_penalty",
            $"must be a finite number in [-2, 2] (0 = off), got {frequency}");
        if (!float.IsFinite(presence) || Math.Abs(presence) > 2) violation("sampling.presence_penalty",
            $"must be a finite number in [-2, 2] (0 = off), got {presence}");
        if (Logprobs is < 0 or > MaxLogprobs) violation("sampling.logprobs", $"must be in [0, {MaxLogprobs}], got {Logprobs}");
        int max = MaxTokens is null or 0 ? limits.DefaultMaxTokens : (int)Math.Clamp(MaxTokens.Value, int.MinValue, int.MaxValue);
        if (max > limits.MaxTokensLimit) violation("max_tokens", $"must be at most {limits.MaxTokensLimit}, got {MaxTokens}");
        if (Stop.Count > MaxStopStrings) violation("stop", $"at most {MaxStopStrings} stop strings, got {Stop.Count}");
        for (int i = 0; i < Stop.Count; i++)
        {
            int n = Encoding.UTF8.GetByteCount(Stop[i]);
            if (n is < 1 or > MaxStopBytes) violation($"stop[{i}]", $"must have 1 to {MaxStopBytes} bytes, got {n}");
        }
        var format = Format?.Resolve("sampling.format", violation);
        if (LogitBias?.Count > MaxLogitBias) violation("sampling.logit_bias", $"at most {MaxLogitBias} token ids, got {LogitBias.Count}");
        foreach (var (id, bias) in LogitBias?.Take(MaxLogitBias) ?? [])
        {
            if (id < 0) violation($"sampling.logit_bias[{id}]", "must be a token id (>= 0)");
            if (!float.IsFinite(bias) || Math.Abs(bias) > SamplingParams.MaxBias)
                violation($"sampling.logit_bias[{id}]", $"must be a finite number in [-100, 100], got {bias}");
        }
        return new SamplingParams
        {
            Temperature = temperature, TopP = topP, TopK = topK, MinP = minP, RepeatPenalty = repeat, RepeatLastN = lastN,
            FrequencyPenalty = frequency, PresencePenalty = presence,
            // The sampler takes 32 bits: fold the high half in, so seeds that differ only there still differ (seeds below
            // 2^32 are taken as they are).
            Seed = Seed is { } seed ? unchecked((int)(seed ^ (seed >> 32))) : null,
            MaxTokens = Math.Clamp(max, 1, limits.MaxTokensLimit),
            MaxTokensRequested = MaxTokens is not (null or 0),
            Stop = Stop.ToArray(),
            Logprobs = Logprobs is >= 0 and <= MaxLogprobs ? Logprobs : null,
            OutputFormat = format,
            LogitBias = LogitBias is { Count: > 0 } ? LogitBias.ToDictionary() : null,
        };
    }
}

/// <summary>Checks a request's text and sampling against the core's limits, collecting every field violation (with the
/// request's field prefix, e.g. "request." for a CaptionStream item), then throws them together.</summary>
public sealed class RequestValidator(RegionChatCoreOptions limits, string prefix = "")
{
    readonly List<FieldError> violations = [];

    public IReadOnlyList<FieldError> Violations => violations;

    public void Add(string field, string description) => violations.Add(new FieldError(prefix + field, description));

    /// <summary>Throws <see cref="RegionChatErrorKind.InvalidArgument"/> with every violation found, if any.</summary>
    public void ThrowIfAny()
    {
        if (violations.Count > 0) throw RegionChatCoreException.InvalidArgument(violations.ToArray());
    }

    /// <summary>A prompt text: not empty when required, at most <see cref="RegionChatCoreOptions.MaxPromptBytes"/>.</summary>
    public void Text(string text, string field, bool required)
    {
        if (required && string.IsNullOrWhiteSpace(text)) Add(field, "must not be empty");
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > limits.MaxPromptBytes) Add(field, $"is {bytes} bytes; the limit is {limits.MaxPromptBytes}");
    }

    /// <summary>An id the request names (model, session, image, item): at most <see cref="RegionChatCoreOptions.MaxIdLength"/>
    /// characters, refused before it is looked up or quoted.</summary>
    public void Id(string id, string field)
    {
        if (id.Length > limits.MaxIdLength)
            Add(field, $"is {id.Length} characters; the limit is {limits.MaxIdLength} (RegionChat:MaxIdLength)");
    }

    /// <summary>The messages a turn adds and their text bytes (system prompt included), bounded before anything is
    /// tokenised (<see cref="RegionChatCoreOptions.MaxHistoryMessages"/>, <see cref="RegionChatCoreOptions.MaxHistoryBytes"/>).</summary>
    public void History(IReadOnlyList<TurnMessage> messages, string systemPrompt, string field)
    {
        if (messages.Count > limits.MaxHistoryMessages)
            Add(field, HistoryMessages(messages.Count, limits.MaxHistoryMessages));
        long bytes = Encoding.UTF8.GetByteCount(systemPrompt);
        foreach (var m in messages) bytes += Encoding.UTF8.GetByteCount(m.Text);
        if (bytes > limits.MaxHistoryBytes) Add(field, HistoryBytes(limits.MaxHistoryBytes));
    }

    /// <summary>The refusal of a turn with too many messages, as every transport words it.</summary>
    public static string HistoryMessages(int count, int limit) =>
        $"the request adds {count} messages; the limit is {limit} (RegionChat:MaxHistoryMessages)";

    /// <summary>The refusal of a turn whose messages hold too much text, as every transport words it.</summary>
    public static string HistoryBytes(int limit) =>
        $"the text of the request's messages is over the limit of {limit} bytes together (RegionChat:MaxHistoryBytes)";

    /// <summary>Sampling fields ("sampling.temperature", …, "max_tokens", "stop", "stop[i]").</summary>
    public void Sampling(SamplingOptions sampling) => sampling.Resolve(limits, Add);
}
