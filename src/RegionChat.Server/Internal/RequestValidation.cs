using System.Text;
using RegionChat.Llm.Engine;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>Checks a request's parameters and maps them to the engine's, collecting every field violation.</summary>
internal sealed class RequestValidation(ServerOptions options, string prefix = "")
{
    public List<(string Field, string Description)> Violations { get; } = [];

    public void Add(string field, string description) => Violations.Add((prefix + field, description));

    public void ThrowIfAny()
    {
        if (Violations.Count > 0) throw RpcErrors.InvalidArgument(Violations);
    }

    public void Text(string text, string field, bool required)
    {
        if (required && string.IsNullOrWhiteSpace(text)) Add(field, "must not be empty");
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > options.MaxPromptBytes) Add(field, $"is {bytes} bytes; the limit is {options.MaxPromptBytes}");
    }

    /// <summary>Proto sampling + max_tokens + stop → engine parameters. Unset fields take the proto's documented defaults.</summary>
    public SamplingParams Sampling(PbV1.SamplingParams? s, uint maxTokens, IReadOnlyList<string> stop)
    {
        s ??= new PbV1.SamplingParams();
        float temperature = s.HasTemperature ? s.Temperature : 0f;
        float topP = s.HasTopP ? s.TopP : 1f;
        int topK = s.HasTopK ? s.TopK : 0;
        float minP = s.HasMinP ? s.MinP : 0f;
        float repeat = s.HasRepeatPenalty ? s.RepeatPenalty : 1f;
        int lastN = s.HasRepeatLastN ? s.RepeatLastN : 64;
        if (!float.IsFinite(temperature) || temperature < 0 || temperature > 100) Add("sampling.temperature", $"must be a finite number in [0, 100] (0 = greedy), got {temperature}");
        if (!float.IsFinite(topP) || topP <= 0 || topP > 1) Add("sampling.top_p", $"must be in (0, 1], got {topP}");
        if (topK < 0) Add("sampling.top_k", $"must be >= 0 (0 = off), got {topK}");
        if (!float.IsFinite(minP) || minP < 0 || minP > 1) Add("sampling.min_p", $"must be in [0, 1], got {minP}");
        if (!float.IsFinite(repeat) || repeat <= 0 || repeat > 100) Add("sampling.repeat_penalty", $"must be a finite number in (0, 100] (1 = off), got {repeat}");
        if (lastN < 0 || lastN > 1 << 20) Add("sampling.repeat_last_n", $"must be in [0, 1048576], got {lastN}");
        int max = maxTokens == 0 ? options.DefaultMaxTokens : (int)Math.Min(maxTokens, int.MaxValue);
        if (max > options.MaxTokensLimit) Add("max_tokens", $"must be at most {options.MaxTokensLimit}, got {maxTokens}");
        if (stop.Count > 8) Add("stop", $"at most 8 stop strings, got {stop.Count}");
        for (int i = 0; i < stop.Count; i++)
        {
            int n = Encoding.UTF8.GetByteCount(stop[i]);
            if (n is < 1 or > 64) Add($"stop[{i}]", $"must have 1 to 64 bytes, got {n}");
        }
        return new SamplingParams
        {
            Temperature = temperature, TopP = topP, TopK = topK, MinP = minP, RepeatPenalty = repeat, RepeatLastN = lastN,
            Seed = s.HasSeed ? unchecked((int)s.Seed) : null,
            MaxTokens = Math.Clamp(max, 1, options.MaxTokensLimit),
            Stop = stop.ToArray(),
        };
    }
}
