using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Internal;

/// <summary>
/// Turns Microsoft.Extensions.AI messages and options into one RegionChat turn. The server keeps each conversation's
/// history (as KV cache) under its session id, so only what follows the last assistant message is sent: with
/// <see cref="ChatOptions.ConversationId"/> that is the new turn; without one, a list that already holds assistant
/// messages cannot be replayed and is refused.
/// </summary>
internal static class ChatRequestMapper
{
    public const string RegionKey = "region";

    public static PbV1.ChatRequest ToRequest(IChatClient client, IEnumerable<ChatMessage> messages, ChatOptions? options, string? defaultModelId)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        // A last assistant message after a user message is the start of the answer, which the model continues; in a
        // continued conversation it could be the last answer sent back, so there it takes "continue_final_message": true.
        string? answerStart = null;
        object? flag = null;
        bool continueFinal = string.IsNullOrEmpty(options?.ConversationId)
            || options?.AdditionalProperties?.TryGetValue("continue_final_message", out flag) == true
               && flag is true or System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.True };
        if (continueFinal && list.Count >= 2 && list[^1].Role == ChatRole.Assistant && list[^2].Role == ChatRole.User)
        {
            answerStart = list[^1].Text;
            list.RemoveAt(list.Count - 1);
        }
        int lastAssistant = list.FindLastIndex(m => m.Role == ChatRole.Assistant);
        string? conversation = options?.ConversationId;
        if (lastAssistant >= 0 && string.IsNullOrEmpty(conversation))
            throw new NotSupportedException(
                "RegionChat keeps a conversation's history on the server and cannot replay earlier assistant messages: " +
                "continue a conversation by setting ChatOptions.ConversationId to the previous response's ConversationId.");
        var turn = list.Skip(lastAssistant + 1).ToList();

        var request = options?.RawRepresentationFactory?.Invoke(client) is PbV1.ChatRequest raw ? raw.Clone() : new PbV1.ChatRequest();
        request.Message ??= new PbV1.UserMessage();
        if (!string.IsNullOrEmpty(conversation)) request.SessionId = conversation;
        if (!string.IsNullOrEmpty(answerStart)) request.AnswerStart = answerStart;
        if (options?.ModelId is { Length: > 0 } model) request.Model = model;
        else if (request.Model.Length == 0 && defaultModelId != null) request.Model = defaultModelId;

        var system = new List<string>();
        if (!string.IsNullOrEmpty(options?.Instructions)) system.Add(options.Instructions);
        var texts = new List<string>();
        AIContent? imageContent = null;
        ImageRegion? region = null;
        ChatMessage? regionMessage = null;
        foreach (var message in turn)
        {
            if (message.Role == ChatRole.System)
            {
                system.Add(message.Text);
                continue;
            }
            if (message.Role != ChatRole.User)
                throw new NotSupportedException($"RegionChat takes user and system messages; a '{message.Role}' message cannot be sent (no tool calling).");
            var text = new System.Text.StringBuilder();
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text);
                        break;
                    case DataContent d when d.HasTopLevelMediaType("image"):
                        SetImage(request.Message, new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(d.Data.Span) });
                        imageContent = d;
                        break;
                    case HostedFileContent f when f.MediaType is null || f.HasTopLevelMediaType("image"):
                        SetImage(request.Message, new PbV1.ImageInput { ImageId = f.FileId });
                        imageContent = f;
                        break;
                    case RegionContent r:
                        if (region != null) throw new ArgumentException("a turn carries one region; combine several with ImageRegion.Union");
                        region = r.Region;
                        break;
                    case DataContent d:
                        throw new NotSupportedException($"RegionChat takes images; '{d.MediaType}' content cannot be sent.");
                    case UriContent u:
                        throw new NotSupportedException($"RegionChat does not fetch images from URLs ({u.Uri}): send the bytes as DataContent.");
                    default:
                        throw new NotSupportedException($"RegionChat takes text, an image and a region; {content.GetType().Name} cannot be sent.");
                }
            }
            if (text.Length > 0) texts.Add(text.ToString());
            if (message.AdditionalProperties?.ContainsKey(RegionKey) == true) regionMessage = message;
        }
        if (turn.All(m => m.Role != ChatRole.User))
            throw new ArgumentException("there is no user message to send after the last assistant message");

        // A typed RegionContent wins; then "region" in the image's, the message's, and the options' AdditionalProperties.
        region ??= FromProperties(imageContent?.AdditionalProperties, "the image's")
            ?? FromProperties(regionMessage?.AdditionalProperties, "the message's")
            ?? FromProperties(options?.AdditionalProperties, "ChatOptions'");
        if (region != null) request.Message.Region = region.ToProto();
        request.Message.Text = string.Join("\n", texts);
        if (system.Count > 0) request.SystemPrompt = string.Join("\n", system);
        ApplySampling(request, options);
        return request;
    }

    static void SetImage(PbV1.UserMessage message, PbV1.ImageInput image)
    {
        if (message.Image != null)
            throw new ArgumentException("a turn carries one image; ask about another image in a turn of its own");
        message.Image = image;
    }

    static ImageRegion? FromProperties(AdditionalPropertiesDictionary? properties, string where)
    {
        if (properties == null || !properties.TryGetValue(RegionKey, out object? value) || value == null) return null;
        try
        {
            return value switch
            {
                ImageRegion r => r,
                RegionContent c => c.Region,
                PbV1.Region p => ImageRegion.FromProto(p),
                string json => ImageRegionJson.Parse(json),
                JsonElement e => ImageRegionJson.Parse(e),
                _ => throw new ArgumentException($"is a {value.GetType().Name}; expected an ImageRegion, a RegionChat.Protos.V1.Region or " +
                    "the JSON region form"),
            };
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{where} AdditionalProperties[\"{RegionKey}\"]: {e.Message}", e);
        }
    }

    static void ApplySampling(PbV1.ChatRequest request, ChatOptions? options)
    {
        if (options == null) return;
        RefuseUnsupported(options);
        var extra = options.AdditionalProperties;
        var generation = new GenerationOptions
        {
            Temperature = options.Temperature,
            TopP = options.TopP,
            TopK = options.TopK,
            // A seed is only bits: a negative long keeps its bits as the proto's uint64.
            Seed = options.Seed is { } seed ? unchecked((ulong)seed) : null,
            MaxTokens = options.MaxOutputTokens,
            MinP = (float?)ExtraNumber(extra, "min_p"),
            RepeatPenalty = (float?)ExtraNumber(extra, "repeat_penalty"),
            RepeatLastN = ExtraNumber(extra, "repeat_last_n") is { } lastN
                ? lastN == Math.Floor(lastN) && lastN is >= int.MinValue and <= int.MaxValue ? (int)lastN
                  : throw new ArgumentException($"ChatOptions.AdditionalProperties[\"repeat_last_n\"]: must be a whole number, got {lastN}")
                : null,
            FrequencyPenalty = options.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty,
            Format = Format(options.ResponseFormat, extra),
            LogitBias = ExtraBias(extra),
        };
        if (generation.ToSampling() is { } sampling)
        {
            request.Sampling ??= new PbV1.SamplingParams();
            request.Sampling.MergeFrom(sampling);
        }
        if (generation.MaxTokens != null) request.MaxTokens = generation.MaxTokensField();
        if (options.StopSequences is { Count: > 0 } stop)
        {
            request.Stop.Clear();
            request.Stop.AddRange(stop);
        }
    }

    /// <summary>ResponseFormat Json (with or without a schema), or vLLM's "guided_regex" / "guided_choice" among the extras;
    /// at most one of them.</summary>
    static AnswerFormat? Format(ChatResponseFormat? responseFormat, AdditionalPropertiesDictionary? extra)
    {
        var formats = new List<AnswerFormat>();
        if (responseFormat is ChatResponseFormatJson json)
            formats.Add(json.Schema is { } schema ? AnswerFormat.JsonSchema(schema.GetRawText()) : AnswerFormat.JsonObject);
        if (Extra(extra, "guided_regex") is { } regex)
            formats.Add(AnswerFormat.Regex(regex switch
            {
                string s => s,
                JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
                _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"guided_regex\"]: expected a string, got {regex}"),
            }));
        if (Extra(extra, "guided_choice") is { } choices)
            formats.Add(AnswerFormat.Choice(choices switch
            {
                IEnumerable<string> list => list.ToArray(),
                JsonElement { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()!
                    : throw new ArgumentException("ChatOptions.AdditionalProperties[\"guided_choice\"]: expected strings")).ToArray(),
                _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"guided_choice\"]: expected a list of strings, got {choices}"),
            }));
        return formats.Count <= 1 ? formats.FirstOrDefault()
            : throw new ArgumentException("ChatOptions: give one of ResponseFormat Json, AdditionalProperties[\"guided_regex\"] and [\"guided_choice\"]");
    }

    /// <summary>"logit_bias": token id → bias, as a dictionary (int or numeric string keys) or a JSON object.</summary>
    static Dictionary<int, float>? ExtraBias(AdditionalPropertiesDictionary? extra)
    {
        const string key = "logit_bias";
        IEnumerable<(object Id, object? Bias)> pairs = Extra(extra, key) switch
        {
            null => [],
            JsonElement { ValueKind: JsonValueKind.Object } e => e.EnumerateObject().Select(p => ((object)p.Name, (object?)p.Value)),
            System.Collections.IDictionary d => d.Keys.Cast<object>().Select(k => (k, d[k])),
            var other => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"]: expected token ids and biases, got {other}"),
        };
        var bias = new Dictionary<int, float>();
        foreach (var (id, value) in pairs)
        {
            int token = id is int i ? i
                : int.TryParse(Convert.ToString(id, CultureInfo.InvariantCulture), NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed
                : throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"]: '{id}' is not a token id");
            bias[token] = (float)(Number(value, $"{key}\"][\"{token}") ?? 0);
        }
        return bias.Count > 0 ? bias : null;
    }

    static object? Extra(AdditionalPropertiesDictionary? extra, string key) =>
        extra != null && extra.TryGetValue(key, out object? value) && value is not (null or JsonElement { ValueKind: JsonValueKind.Null }) ? value : null;

    /// <summary>A number among the options' extras, as a number, a numeric string or a JSON number (settings read from JSON
    /// or YAML arrive as JsonElement); anything else is refused rather than ignored, as the answer would not be the one
    /// asked for.</summary>
    static double? ExtraNumber(AdditionalPropertiesDictionary? extra, string key) => Number(Extra(extra, key), key);

    static double? Number(object? value, string key)
    {
        if (value == null) return null;
        try
        {
            return value switch
            {
                JsonElement { ValueKind: JsonValueKind.Null } => null,
                JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
                JsonElement { ValueKind: JsonValueKind.String } e => double.Parse(e.GetString()!, CultureInfo.InvariantCulture),
                IConvertible c and not (bool or char or DateTime) => Convert.ToDouble(c, CultureInfo.InvariantCulture),
                _ => throw new FormatException(),
            };
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException)
        {
            throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"]: expected a number, got {value}", e);
        }
    }

    /// <summary>Options that would change the answer in ways RegionChat cannot (as the server's OpenAI endpoint refuses
    /// them): ignoring them would return an answer the caller did not ask for. Their neutral values pass.</summary>
    static void RefuseUnsupported(ChatOptions options)
    {
        if (options.ResponseFormat is not (null or ChatResponseFormatText or ChatResponseFormatJson))
            throw new NotSupportedException($"ChatOptions.ResponseFormat: {options.ResponseFormat.GetType().Name} is not supported (text or JSON)");
        if (options.Tools is { Count: > 0 } && options.ToolMode is not NoneChatToolMode)
            throw new NotSupportedException("ChatOptions.Tools: RegionChat's models do not call tools (set ToolMode to None to send them anyway)");
    }

}
