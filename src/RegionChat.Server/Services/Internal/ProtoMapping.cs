using RegionChat.Inference;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services.Internal;

/// <summary>The gRPC contract's messages ↔ the core's plain request and events.</summary>
internal static class ProtoMapping
{
    /// <summary>Proto sampling + max_tokens + stop; unset fields stay unset, so the core's defaults apply.</summary>
    public static SamplingOptions Sampling(PbV1.SamplingParams? s, uint maxTokens, IReadOnlyList<string> stop)
    {
        s ??= new PbV1.SamplingParams();
        return new SamplingOptions
        {
            Temperature = s.HasTemperature ? s.Temperature : null,
            TopP = s.HasTopP ? s.TopP : null,
            TopK = s.HasTopK ? s.TopK : null,
            MinP = s.HasMinP ? s.MinP : null,
            RepeatPenalty = s.HasRepeatPenalty ? s.RepeatPenalty : null,
            RepeatLastN = s.HasRepeatLastN ? s.RepeatLastN : null,
            FrequencyPenalty = s.HasFrequencyPenalty ? s.FrequencyPenalty : null,
            PresencePenalty = s.HasPresencePenalty ? s.PresencePenalty : null,
            Seed = s.HasSeed ? s.Seed : null,
            Logprobs = s.HasLogprobs ? (int)Math.Min(s.Logprobs, int.MaxValue) : null,
            MaxTokens = maxTokens == 0 ? null : maxTokens,
            Stop = stop.ToArray(),
            Format = s.Format?.KindCase switch
            {
                PbV1.AnswerFormat.KindOneofCase.JsonObject => AnswerFormat.JsonObject,
                PbV1.AnswerFormat.KindOneofCase.Choice => AnswerFormat.Choice(s.Format.Choice.Choices),
                PbV1.AnswerFormat.KindOneofCase.JsonSchema => AnswerFormat.JsonSchema(s.Format.JsonSchema.Schema),
                PbV1.AnswerFormat.KindOneofCase.Regex => AnswerFormat.Regex(s.Format.Regex.Pattern),
                _ => null,
            },
            LogitBias = s.LogitBias.Count > 0 ? s.LogitBias : null,
        };
    }

    public static PbV1.TokenLogprob Logprob(TokenLogprob l) => new()
    {
        TokenId = l.TokenId, Token = System.Text.Encoding.UTF8.GetString(l.Bytes), Bytes = Google.Protobuf.ByteString.CopyFrom(l.Bytes),
        Logprob = l.Logprob, Top = { l.Top.Select(Logprob) },
    };

    public static PbV1.ClassifyTimings ClassifyTimings(ClassifyTimings t) => new()
    {
        ImageDecodeMs = t.ImageDecodeMs, VisionEncodeMs = t.VisionEncodeMs, TextEncodeMs = t.TextEncodeMs, TotalMs = t.TotalMs,
        TextCacheHits = (uint)t.TextCacheHits,
    };

    /// <summary>Null (the session's last image) when the message has no image.</summary>
    public static ImageInput? Image(PbV1.ImageInput? input) => input?.SourceCase switch
    {
        null => null,
        PbV1.ImageInput.SourceOneofCase.Data => ImageInput.FromBytes(input.Data.Memory),
        PbV1.ImageInput.SourceOneofCase.ImageId => ImageInput.FromStoredId(input.ImageId),
        _ => ImageInput.Missing,
    };

    public static PbV1.ChatEvent Event(TurnEvent e) => e switch
    {
        TurnStarted s => new PbV1.ChatEvent { Started = new PbV1.ChatStarted
        {
            SessionId = s.SessionId, Model = s.Model, PromptTokens = (uint)s.PromptTokens, CachedTokens = (uint)s.CachedTokens,
            VisualTokens = (uint)s.VisualTokens, RequestId = s.RequestId, Restored = s.Restored, RestoredTokens = (uint)s.RestoredTokens,
        } },
        TurnText t => new PbV1.ChatEvent { Delta = new PbV1.TextDelta { Text = t.Text, Logprobs = { t.Logprobs.Select(Logprob) } } },
        TurnFinished f => new PbV1.ChatEvent { Finished = new PbV1.ChatFinished
        {
            Reason = Reason(f.Reason), Usage = Usage(f.Usage), Timings = Timings(f.Timings),
        } },
        _ => throw new ArgumentException($"unknown turn event {e.GetType().Name}", nameof(e)),
    };

    public static PbV1.FinishReason Reason(TurnFinishReason reason) => reason switch
    {
        TurnFinishReason.Stop => PbV1.FinishReason.Stop,
        TurnFinishReason.Length => PbV1.FinishReason.Length,
        _ => PbV1.FinishReason.Cancelled,
    };

    public static PbV1.Usage Usage(TurnUsage u) => new()
    {
        PromptTokens = (uint)u.PromptTokens, CachedTokens = (uint)u.CachedTokens, CompletionTokens = (uint)u.CompletionTokens,
        VisualTokens = (uint)u.VisualTokens,
    };

    public static PbV1.Timings Timings(TurnTimings t) => new()
    {
        QueueMs = t.QueueMs, ImageDecodeMs = t.ImageDecodeMs, VisionEncodeMs = t.VisionEncodeMs, PrefillMs = t.PrefillMs,
        DecodeMs = t.DecodeMs, TimeToFirstTokenMs = t.TimeToFirstTokenMs, DecodeTokensPerSecond = t.DecodeTokensPerSecond,
        VisualCacheHit = t.VisualCacheHit,
    };

    public static PbV1.ListModelsResponse Models(ModelList list, IReadOnlyDictionary<string, IReadOnlyList<string>> labelSets)
    {
        var response = new PbV1.ListModelsResponse { DefaultModel = list.DefaultModel };
        foreach (var (id, labels) in labelSets.OrderBy(s => s.Key, StringComparer.Ordinal))
            response.LabelSets.Add(new PbV1.LabelSetInfo { Id = id, Labels = { labels } });
        foreach (var m in list.Models)
            response.Models.Add(new PbV1.ModelInfo
            {
                Id = m.Id,
                State = m.StateName,
                LoadError = m.LoadError ?? "",
                ContextSize = (uint)m.ContextSize,
                SessionContextSize = (uint)m.SessionContext,
                Template = m.Template,
                Vision = new PbV1.VisionInfo { ImageSize = (uint)m.ImageSize, PatchSize = (uint)m.PatchSize, Width = (uint)m.VisionWidth,
                    Layers = (uint)m.VisionLayers, FeatureLayer = m.FeatureLayer, Preprocess = m.Preprocess },
                Projector = new PbV1.ProjectorInfo { Type = m.ProjectorType, InputWidth = (uint)m.ProjectorInputWidth,
                    OutputWidth = (uint)m.ProjectorOutputWidth, VisualTokens = (uint)m.VisualTokens },
                Llm = new PbV1.LlmInfo { Architecture = m.LlmArchitecture, EmbeddingLength = (uint)m.EmbeddingLength, Layers = (uint)m.LlmLayers,
                    VocabSize = (uint)m.VocabSize, TrainContextLength = (uint)m.TrainContextLength },
            });
        return response;
    }
}
