using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// One chat turn: the question, optionally an image and a region of it. Without <see cref="SessionId"/> the turn starts
/// a new session (its id comes back in <see cref="ChatAnswer.SessionId"/> and in the first stream event); with it, the
/// turn continues that conversation, whose history the server keeps in its KV cache. A region without an image refers to
/// the session's most recent image.
/// </summary>
public sealed record ChatTurn(string Text)
{
    /// <summary>The image the question is about; null = no new image (a region then refers to the session's latest).</summary>
    public ChatImage? Image { get; init; }
    /// <summary>The region of the image; null = the whole image.</summary>
    public ImageRegion? Region { get; init; }
    /// <summary>The session to continue; null = start a new one.</summary>
    public string? SessionId { get; init; }
    /// <summary>Model id from ListModels; null = the server's default.</summary>
    public string? Model { get; init; }
    /// <summary>System prompt of a new session (ignored when continuing one); null = the model's default.</summary>
    public string? SystemPrompt { get; init; }
    /// <summary>Sampling and length options; null = the server's defaults.</summary>
    public GenerationOptions? Generation { get; init; }
    /// <summary>The start of the answer, which the model continues (llama.cpp's "prefill"); the deltas carry the
    /// continuation only, leading spaces kept. Null = none.</summary>
    public string? AnswerStart { get; init; }

    /// <summary>The proto form the gRPC API takes.</summary>
    public PbV1.ChatRequest ToProto()
    {
        var message = new PbV1.UserMessage { Text = Text ?? "" };
        if (Image != null) message.Image = Image.ToProto();
        if (Region != null) message.Region = Region.ToProto();
        var request = new PbV1.ChatRequest
        {
            Model = Model ?? "",
            SessionId = SessionId ?? "",
            Message = message,
            SystemPrompt = SystemPrompt ?? "",
            AnswerStart = AnswerStart ?? "",
            MaxTokens = Generation?.MaxTokensField() ?? 0,
            Sampling = Generation?.ToSampling(),
        };
        if (Generation?.Stop is { } stop) request.Stop.AddRange(stop);
        return request;
    }
}
