using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// RegionChat as a Microsoft.Extensions.AI <see cref="IChatClient"/>, for .NET chat apps and Semantic Kernel.
/// <list type="bullet">
/// <item>Images: <see cref="DataContent"/> with an image/* media type (or <see cref="HostedFileContent"/> with the id of
/// an image stored by PutImage); one image per turn.</item>
/// <item>Regions: a <see cref="RegionContent"/> next to the image, or <c>AdditionalProperties["region"]</c> on the
/// image's content, on the message or on the <see cref="ChatOptions"/> (in that order), holding an
/// <see cref="ImageRegion"/>, a proto Region, or the JSON region form (string or JsonElement). No region = whole image.</item>
/// <item>Sessions: a response's <see cref="ChatResponse.ConversationId"/> (and each streamed update's) is the server's
/// session id. Pass it back as <see cref="ChatOptions.ConversationId"/>: then only the messages after the last assistant
/// message are sent, since the server holds the history in its KV cache (answers reuse it: cached input tokens).</item>
/// <item>Options: Temperature, TopP, TopK, Seed, MaxOutputTokens, StopSequences, FrequencyPenalty, PresencePenalty,
/// ModelId, Instructions (system prompt of a new session); AdditionalProperties "min_p", "repeat_penalty",
/// "repeat_last_n", "logit_bias" (token id → bias, a dictionary or a JSON object), "guided_regex" and "guided_choice"
/// (as vLLM's); ResponseFormat Json (the answer is kept to one JSON object, or to its schema's JSON; at most one of it and
/// the guided ones). Tools (unless ToolMode is None) are refused (NotSupportedException).</item>
/// <item>Usage: input (prompt incl. visual tokens), output, cached input tokens, and "VisualTokenCount" in
/// AdditionalCounts; the finish reason is Stop, Length, or "cancelled" (server shut down mid-answer); the server's
/// timings are in AdditionalProperties["Timings"] of the last update and of the whole response.</item>
/// <item>Errors: <see cref="RegionChatException"/> naming the gRPC status (NotFound for an unknown or expired
/// conversation id, Unauthenticated for a wrong API key, …); cancelling the token throws
/// <see cref="OperationCanceledException"/> and stops the answer on the server at once.</item>
/// </list>
/// </summary>
public sealed class RegionChatChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "regionchat";

    /// <summary>The key of the final update's server timings in AdditionalProperties.</summary>
    public const string TimingsKey = "Timings";

    /// <summary>The key of the visual tokens in <see cref="UsageDetails.AdditionalCounts"/>.</summary>
    public const string VisualTokensKey = "VisualTokenCount";

    readonly RegionChatClient client;
    readonly bool ownsClient;
    readonly ChatClientMetadata metadata;

    /// <summary>Wraps <paramref name="client"/> (not disposed with this one). <paramref name="defaultModelId"/> null =
    /// the server's default model.</summary>
    public RegionChatChatClient(RegionChatClient client, string? defaultModelId = null) : this(client, defaultModelId, owns: false) { }

    /// <summary>Connects to <paramref name="address"/> (see <see cref="RegionChatClient(string, string?)"/>).</summary>
    public RegionChatChatClient(string address, string? apiKey = null, string? defaultModelId = null)
        : this(new RegionChatClient(address, apiKey), defaultModelId, owns: true) { }

    RegionChatChatClient(RegionChatClient client, string? defaultModelId, bool owns)
    {
        this.client = client ?? throw new ArgumentNullException(nameof(client));
        ownsClient = owns;
        DefaultModelId = string.IsNullOrEmpty(defaultModelId) ? null : defaultModelId;
        metadata = new ChatClientMetadata(ProviderName, client.Address, DefaultModelId);
    }

    /// <summary>The model asked for when <see cref="ChatOptions.ModelId"/> is unset; null = the server's default.</summary>
    public string? DefaultModelId { get; }

    /// <summary>Runs one turn (see the class remarks for what is sent) and returns the whole answer; its ConversationId
    /// continues the conversation.</summary>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            updates.Add(update);
        var response = updates.ToChatResponse();
        // The timings ride on the last update; a whole response carries them itself.
        if (updates.Count > 0 && updates[^1].AdditionalProperties?.TryGetValue(TimingsKey, out object? timings) == true)
            (response.AdditionalProperties ??= [])[TimingsKey] = timings;
        return response;
    }

    /// <summary>Runs one turn and streams the answer piece by piece; stopping early cancels it on the server.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ChatRequestMapper.ToRequest(this, messages, options, DefaultModelId);
        PbV1.ChatStarted? started = null;
        bool finished = false;
        await foreach (var e in client.ChatStreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            switch (e.EventCase)
            {
                case PbV1.ChatEvent.EventOneofCase.Started:
                    // An update without content, so callers learn the conversation id before the first word.
                    started = e.Started;
                    yield return Update(started, e);
                    break;
                case PbV1.ChatEvent.EventOneofCase.Delta when started != null:
                    var delta = Update(started, e);
                    delta.Contents.Add(new TextContent(e.Delta.Text) { RawRepresentation = e.Delta });
                    yield return delta;
                    break;
                case PbV1.ChatEvent.EventOneofCase.Finished when started != null:
                    var last = Update(started, e);
                    last.FinishReason = FinishReason(e.Finished.Reason);
                    last.Contents.Add(new UsageContent(Usage(e.Finished.Usage)) { RawRepresentation = e.Finished.Usage });
                    if (e.Finished.Timings != null) (last.AdditionalProperties ??= [])[TimingsKey] = e.Finished.Timings;
                    finished = true;
                    yield return last;
                    break;
                default:
                    throw RpcErrors.Protocol("Chat", $"the server sent a {e.EventCase} event before the chat stream's first event");
            }
        }
        // A cut answer must not pass for a whole one.
        if (!finished) throw RpcErrors.Protocol("Chat", "the server ended the chat stream without its last event");
    }

    static ChatResponseUpdate Update(PbV1.ChatStarted started, PbV1.ChatEvent e) => new()
    {
        Role = ChatRole.Assistant,
        ConversationId = started.SessionId,
        ResponseId = started.RequestId,
        MessageId = started.RequestId,
        ModelId = started.Model,
        RawRepresentation = e,
    };

    static ChatFinishReason? FinishReason(PbV1.FinishReason reason) => reason switch
    {
        PbV1.FinishReason.Stop => ChatFinishReason.Stop,
        PbV1.FinishReason.Length => ChatFinishReason.Length,
        PbV1.FinishReason.Cancelled => new ChatFinishReason("cancelled"),
        _ => null,
    };

    static UsageDetails Usage(PbV1.Usage? usage)
    {
        if (usage == null) return new UsageDetails();
        return new UsageDetails
        {
            InputTokenCount = usage.PromptTokens,
            OutputTokenCount = usage.CompletionTokens,
            TotalTokenCount = (long)usage.PromptTokens + usage.CompletionTokens,
            CachedInputTokenCount = usage.CachedTokens,
            AdditionalCounts = new() { [VisualTokensKey] = usage.VisualTokens },
        };
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey != null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return metadata;
        if (serviceType == typeof(RegionChatClient)) return client;
        if (serviceType == typeof(PbV1.RegionChat.RegionChatClient)) return client.Grpc;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the wrapped <see cref="RegionChatClient"/> when this instance owns it.</summary>
    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }
}
