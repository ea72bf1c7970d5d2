using System.Text;
using System.Text.Json;
using RegionChat.Inference;
using RegionChat.Data.Regions;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// Reads and checks a chat completion request body. Every problem is a 400 naming the offending field ("param"), as
/// OpenAI does; fields RegionChat does not use are ignored, unless they would change the answer. Images are decoded from their URLs here, so a bad one fails
/// before the request waits for the model.
/// </summary>
internal sealed class ChatCompletionRequestReader(ServerOptions options, RegionChatCoreOptions coreOptions)
{
    enum Role { System, User, Assistant }

    readonly ImageUrlReader imageUrls = new(options);
    /// <summary>Text bytes of the messages read so far (those the request adds), against MaxHistoryBytes.</summary>
    long historyBytes;
    /// <summary>The region budget of the whole request: its regions are made as they are read and held until it runs.</summary>
    readonly RegionCost regionCost = coreOptions.Regions.Start();

    public ChatCompletionRequest Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Bad("the request body must be a JSON object", null);
        string model = String(root, "model") ?? "";
        string session = String(root, "session_id") ?? "";
        bool stream = Bool(root, "stream", "stream") ?? false;
        bool includeUsage = false;
        if (Present(root, "stream_options", out var so))
        {
            if (so.ValueKind != JsonValueKind.Object) throw Bad("stream_options must be an object", "stream_options");
            includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
        }
        if (Present(root, "n", out var n) && !(n.ValueKind == JsonValueKind.Number && n.TryGetInt64(out long count) && count == 1))
            throw Bad("n: only one choice per request is supported (n = 1)", "n");
        RefuseUnsupported(root);
        // The field the limit came in names it in errors, here and in the core's (max_completion_tokens wins; llama.cpp's
        // n_predict counts when neither OpenAI field is there).
        string maxTokensField = Present(root, "max_completion_tokens", out _) ? "max_completion_tokens"
            : !Present(root, "max_tokens", out _) && Present(root, "n_predict", out _) ? "n_predict" : "max_tokens";
        var (format, formatField) = Format(root);
        var sampling = Sampling(root, maxTokensField, format, formatField);
        long? budget = Integer(root, "visual_token_budget");
        if (budget is { } b && VisualTokenSelection.Check(b, includesCls: false) is { } badBudget)
            throw Bad($"visual_token_budget {badBudget}", "visual_token_budget");
        // A region anywhere but on its image would be ignored and the whole image answered about: say where it goes.
        if (Present(root, "region", out _)) throw Bad(MisplacedRegion("region"), "region", "invalid_region");
        var (system, messages) = Messages(root, continuing: session.Length > 0);
        return new ChatCompletionRequest(model, session, system, messages, sampling, stream, includeUsage, budget, maxTokensField,
            formatField);
    }

    /// <summary>OpenAI fields that would change the answer in ways RegionChat cannot: ignoring them would hand back an
    /// answer the client did not ask for (no tool call, no grammar), so each is a 400 naming it, with OpenAI's
    /// code for a parameter a model does not support. Their neutral values (no tools, "") pass.</summary>
    static void RefuseUnsupported(JsonElement root)
    {
        string? toolChoice = Present(root, "tool_choice", out var choice)
            ? choice.ValueKind == JsonValueKind.String ? choice.GetString() : "a function"
            : null;
        if (toolChoice is not (null or "none" or "auto")) throw Unsupported("tool_choice", "RegionChat's models do not call tools (\"none\" or \"auto\" only)");
        foreach (string tools in new[] { "tools", "functions" })
            if (toolChoice != "none" && Present(root, tools, out var list) && !(list.ValueKind == JsonValueKind.Array && list.GetArrayLength() == 0))
                throw Unsupported(tools, "RegionChat's models do not call tools");
        // llama.cpp's and vLLM's other constrained decoding: an answer that ignored them would not be what was asked for.
        foreach (string constraint in UnsupportedConstraints)
            if (Present(root, constraint, out var value) && !(value.ValueKind == JsonValueKind.String && value.GetString() == ""))
                throw Unsupported(constraint, ConstraintsOffered);
    }

    static readonly string[] UnsupportedConstraints = ["grammar", "guided_grammar"];

    const string ConstraintsOffered = "answers can be constrained to a JSON object (response_format json_object), a JSON schema " +
                                      "(response_format json_schema, guided_json), a choice (guided_choice) or a regular expression " +
                                      "(guided_regex), not to a grammar";

    /// <summary>The answer's shape: OpenAI's response_format (text, json_object, json_schema), vLLM's guided_choice and
    /// guided_json, vLLM's structured_outputs (choice, json, json_object), llama.cpp's json_schema; at most one of them.
    /// Returns the field it came from too.</summary>
    static (AnswerFormat? Format, string Field) Format(JsonElement root)
    {
        var given = new List<(AnswerFormat? Format, string Field)>();
        if (Present(root, "response_format", out var rf))
        {
            string? type = rf.ValueKind == JsonValueKind.Object && rf.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                ? t.GetString() : null;
            given.Add(type switch
            {
                "text" => (null, "response_format"),
                "json_object" => (AnswerFormat.JsonObject, "response_format"),
                "json_schema" => (Schema(rf, "response_format.json_schema"), "response_format.json_schema.schema"),
                _ => throw Bad("response_format must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or " +
                               "{\"type\": \"json_schema\", \"json_schema\": {\"name\": …, \"schema\": …}}", "response_format"),
            });
        }
        if (Present(root, "guided_choice", out var gc)) given.Add((Choices(gc, "guided_choice"), "guided_choice"));
        if (Present(root, "guided_json", out var gj)) given.Add((SchemaText(gj, "guided_json"), "guided_json"));
        if (Present(root, "json_schema", out var js)) given.Add((SchemaText(js, "json_schema"), "json_schema"));
        if (Present(root, "guided_regex", out var gr)) given.Add((Pattern(gr, "guided_regex"), "guided_regex"));
        if (Present(root, "structured_outputs", out var so))
        {
            if (so.ValueKind != JsonValueKind.Object) throw Bad("structured_outputs must be an object", "structured_outputs");
            foreach (var p in so.EnumerateObject())
            {
                string field = "structured_outputs." + p.Name;
                if (p.Value.ValueKind == JsonValueKind.Null || p.Value.ValueKind == JsonValueKind.False && p.Name == "json_object") continue;
                given.Add(p.Name switch
                {
                    "choice" => (Choices(p.Value, field), field),
                    "json" => (SchemaText(p.Value, field), field),
                    "regex" => (Pattern(p.Value, field), field),
                    "json_object" when p.Value.ValueKind == JsonValueKind.True => (AnswerFormat.JsonObject, field),
                    "json_object" => throw Bad($"{field} must be true or false", field),
                    _ => throw Unsupported(field, ConstraintsOffered),
                });
            }
        }
        var chosen = given.Where(g => g.Format != null).ToArray();
        if (chosen.Length > 1)
            throw Bad($"{chosen[0].Field} and {chosen[1].Field} both constrain the answer; give one", chosen[1].Field);
        return chosen.Length == 1 ? chosen[0] : (null, "response_format");
    }

    /// <summary>OpenAI's {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}: the schema.</summary>
    static AnswerFormat Schema(JsonElement responseFormat, string field)
    {
        if (!responseFormat.TryGetProperty("json_schema", out var wrapper) || wrapper.ValueKind != JsonValueKind.Object)
            throw Bad($"{field} must be an object with the schema", field);
        return wrapper.TryGetProperty("schema", out var schema) ? SchemaText(schema, field + ".schema")
            : throw Bad($"{field}.schema is missing", field + ".schema");
    }

    /// <summary>A schema as a JSON object (or true), or as a string holding one (vLLM takes both).</summary>
    static AnswerFormat SchemaText(JsonElement schema, string field) => schema.ValueKind switch
    {
        JsonValueKind.Object or JsonValueKind.True => AnswerFormat.JsonSchema(schema.GetRawText()),
        JsonValueKind.String => AnswerFormat.JsonSchema(schema.GetString()!),
        _ => throw Bad($"{field} must be a JSON schema (an object)", field),
    };

    static AnswerFormat Pattern(JsonElement pattern, string field) => pattern.ValueKind == JsonValueKind.String
        ? AnswerFormat.Regex(pattern.GetString()!) : throw Bad($"{field} must be a regular expression (a string)", field);

    /// <summary>A list of strings, counted before it is copied out (a 32 MB body could hold millions).</summary>
    static AnswerFormat Choices(JsonElement list, string field)
    {
        if (list.ValueKind != JsonValueKind.Array) throw Bad($"{field} must be a list of strings", field);
        if (list.GetArrayLength() is 0 or > AnswerFormat.MaxChoices)
            throw Bad($"{field} must hold 1 to {AnswerFormat.MaxChoices} choices, got {list.GetArrayLength()}", field);
        return AnswerFormat.Choice(list.EnumerateArray().Select((c, i) =>
            c.ValueKind == JsonValueKind.String ? c.GetString()! : throw Bad($"{field}[{i}] must be a string", $"{field}[{i}]")).ToArray());
    }

    static OpenAiException Unsupported(string field, string why) => Bad($"{field}: {why}", field, "unsupported_parameter");

    (string System, IReadOnlyList<TurnMessage> Messages) Messages(JsonElement root, bool continuing)
    {
        if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw Bad("messages must be a non-empty list", "messages");
        var items = list.EnumerateArray().ToArray();
        var roles = items.Select((m, i) => RoleOf(m, $"messages[{i}]")).ToArray();
        // llama.cpp's and vLLM's prefill: a last assistant message is the start of the answer, which the model continues.
        // In a continued session it could as well be the session's last answer sent back (no new question): there it
        // takes vLLM's "continue_final_message": true.
        bool answerStart = roles[^1] == Role.Assistant && (!continuing
            || Present(root, "continue_final_message", out var continueFinal) && continueFinal.ValueKind == JsonValueKind.True);
        int lastAnswer = answerStart ? items.Length - 2 : items.Length - 1;
        // A continued session holds everything up to its last answer in the KV cache: only what follows is new.
        int start = continuing && lastAnswer >= 0 ? Array.LastIndexOf(roles, Role.Assistant, lastAnswer) + 1 : 0;
        // Bounded before anything is read, decoded or tokenised.
        if (items.Length - start > coreOptions.MaxHistoryMessages)
            throw Bad("messages: " + RequestValidator.HistoryMessages(items.Length - start, coreOptions.MaxHistoryMessages), "messages", "history_too_long");
        var system = new List<string>();
        var turns = new List<TurnMessage>();
        for (int i = start; i < items.Length; i++)
        {
            string field = $"messages[{i}]";
            switch (roles[i])
            {
                case Role.System:
                    // A session's system prompt is fixed when it starts; clients that resend it on every request are fine.
                    if (!continuing) system.Add(PlainText(items[i], field, allowNull: false));
                    break;
                case Role.Assistant:
                    turns.Add(TurnMessage.Assistant(PlainText(items[i], field, allowNull: true)));
                    break;
                default:
                    turns.Add(User(items[i], field));
                    break;
            }
        }
        // An empty start of an answer starts nothing: the answer is the model's own.
        if (turns.Count > 0 && turns[^1].Role == TurnRole.Assistant && string.IsNullOrWhiteSpace(turns[^1].Text)) turns.RemoveAt(turns.Count - 1);
        bool startsAnswer = turns.Count >= 2 && turns[^1].Role == TurnRole.Assistant && turns[^2].Role == TurnRole.User;
        if (turns.Count == 0 || !(turns[^1].Role == TurnRole.User || startsAnswer))
            throw Bad(continuing
                ? "messages: a request that continues a session needs a user message after the last assistant message " +
                  "(and may end with the start of the answer to it, an assistant message, with \"continue_final_message\": true)"
                : "messages: the last message (other than system messages) must be a user message, or a user message " +
                  "and the start of its answer (an assistant message, which the answer continues)", "messages");
        return (string.Join("\n", system), turns);
    }

    static Role RoleOf(JsonElement m, string field)
    {
        if (m.ValueKind != JsonValueKind.Object) throw Bad($"{field} must be an object with role and content", field);
        string? role = m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        return role switch
        {
            "system" or "developer" => Role.System,
            "user" => Role.User,
            "assistant" => Role.Assistant,
            "tool" or "function" => throw Bad($"{field}.role: {role} messages are not supported (RegionChat has no tools)", field + ".role"),
            null => throw Bad($"{field}.role must be one of system, developer, user, assistant", field + ".role"),
            _ => throw Bad($"{field}.role: unknown role '{ClientText.Quote(role)}' (system, developer, user, assistant)", field + ".role"),
        };
    }

    /// <summary>A system or assistant message: a string or a list of text parts.</summary>
    string PlainText(JsonElement m, string field, bool allowNull)
    {
        string contentField = field + ".content";
        if (Present(m, "region", out _)) throw Bad(MisplacedRegion(field + ".region"), field + ".region", "invalid_region");
        if (!m.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            return allowNull ? "" : throw Bad($"{contentField} is required", contentField);
        if (content.ValueKind == JsonValueKind.String) return CheckedText(content.GetString()!, contentField);
        if (content.ValueKind != JsonValueKind.Array) throw Bad($"{contentField} must be a string or a list of text parts", contentField);
        var texts = new List<string>();
        int j = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partField = $"{contentField}[{j++}]";
            string type = PartType(part, partField);
            if (type is not ("text" or "refusal"))
                throw Bad($"{partField}: only text parts are allowed in system and assistant messages, got '{ClientText.Quote(type)}'", partField + ".type");
            texts.Add(RequiredString(part, type, $"{partField}.{type}"));
        }
        return CheckedText(string.Join("\n", texts), contentField);
    }

    static string MisplacedRegion(string field) =>
        $"{field}: a region goes on its image, as \"region\" beside \"image_url\" in the image's content part " +
        "({\"type\": \"image_url\", \"image_url\": {…}, \"region\": {…}}), or as the image's alpha channel";

    /// <summary>A user message: a string, or text parts and at most one image_url part (with an optional region).</summary>
    TurnMessage User(JsonElement m, string field)
    {
        string contentField = field + ".content";
        if (Present(m, "region", out _)) throw Bad(MisplacedRegion(field + ".region"), field + ".region", "invalid_region");
        if (!m.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            throw Bad($"{contentField} is required", contentField);
        if (content.ValueKind == JsonValueKind.String)
        {
            string text = CheckedText(content.GetString()!, contentField);
            if (string.IsNullOrWhiteSpace(text)) throw Bad($"{contentField} must not be empty", contentField);
            return TurnMessage.User(text);
        }
        if (content.ValueKind != JsonValueKind.Array) throw Bad($"{contentField} must be a string or a list of content parts", contentField);
        var texts = new List<string>();
        TurnImage? image = null;
        int j = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partField = $"{contentField}[{j++}]";
            switch (PartType(part, partField))
            {
                case "text":
                    texts.Add(RequiredString(part, "text", partField + ".text"));
                    break;
                case "image_url":
                    if (image != null)
                        throw Bad($"{partField}: one image per message (the model sees one image per turn); send further images in further messages",
                            partField);
                    image = Image(part, partField);
                    break;
                case var other:
                    throw Bad($"{partField}.type: '{ClientText.Quote(other)}' parts are not supported (text, image_url)", partField + ".type");
            }
        }
        string joined = CheckedText(string.Join("\n", texts), contentField);
        if (image == null && string.IsNullOrWhiteSpace(joined)) throw Bad($"{contentField} needs text or an image", contentField);
        return TurnMessage.User(joined, image);
    }

    TurnImage Image(JsonElement part, string partField)
    {
        string imageField = partField + ".image_url";
        if (!part.TryGetProperty("image_url", out var imageUrl)) throw Bad($"{imageField} is required", imageField);
        string url = imageUrl.ValueKind switch
        {
            JsonValueKind.String => imageUrl.GetString()!,
            JsonValueKind.Object when Present(imageUrl, "region", out _) =>
                throw Bad(MisplacedRegion(imageField + ".region"), imageField + ".region", "invalid_region"),
            JsonValueKind.Object => RequiredString(imageUrl, "url", imageField + ".url"),
            _ => throw Bad($"{imageField} must be an object {{\"url\": \"data:image/png;base64,…\"}}", imageField),
        };
        byte[] bytes = imageUrls.Read(url, imageField + ".url");
        var input = ImageInput.FromBytes(bytes);
        string regionField = partField + ".region";
        // An explicit region wins over the image's alpha channel; without either the whole image is meant.
        if (Present(part, "region", out var region))
        {
            var source = RegionJsonReader.Read(region, coreOptions, regionField, regionCost);
            return new TurnImage(input, source, imageField, regionField) { DataField = imageField };
        }
        if (RegionSource.FromImageAlpha(bytes) is { } alpha) return new TurnImage(input, alpha, imageField, imageField) { DataField = imageField };
        return new TurnImage(input, RegionSource.WholeImage, imageField, regionField) { DataField = imageField };
    }

    SamplingOptions Sampling(JsonElement root, string maxField, AnswerFormat? format, string formatField)
    {
        float? temperature = Number(root, "temperature") is { } t ? (float)t : null;
        float? topP = Number(root, "top_p") is { } p ? (float)p : null;
        float? minP = Number(root, "min_p") is { } mp ? (float)mp : null;
        float? repeatPenalty = Number(root, "repeat_penalty") is { } rp ? (float)rp : null;
        float? frequency = Number(root, "frequency_penalty") is { } fp ? (float)fp : null;
        float? presence = Number(root, "presence_penalty") is { } pp ? (float)pp : null;
        // vLLM's "off" is -1, llama.cpp's any value up to 0.
        int? topK = Integer(root, "top_k") is { } k ? (int)Math.Clamp(k, 0, int.MaxValue) : null;
        // llama.cpp's -1 (its default, and what clients written for it send) is a random seed, as no seed is.
        ulong? seed = Integer(root, "seed") is { } sd && sd >= 0 ? (ulong)sd : null;
        // llama.cpp's -1 is the whole history.
        int? repeatLastN = Integer(root, "repeat_last_n") is { } rn ? rn == -1 ? 1 << 20 : (int)Math.Clamp(rn, int.MinValue, int.MaxValue) : null;
        long? max = Integer(root, maxField);
        if (maxField == "n_predict" && max == -1) max = coreOptions.MaxTokensLimit; // llama.cpp's "no limit": the most this server allows
        if (max is < 1) throw Bad($"{maxField} must be at least 1{(maxField == "n_predict" ? " (or -1)" : "")}, got {max}", maxField);
        uint maxTokens = max == null ? 0 : (uint)Math.Min(max.Value, uint.MaxValue);

        var stop = new List<string>();
        if (Present(root, "stop", out var s))
        {
            if (s.ValueKind == JsonValueKind.String) stop.Add(s.GetString()!);
            else if (s.ValueKind == JsonValueKind.Array)
            {
                // Counted before the strings are copied out: a 32 MB body could hold millions.
                if (s.GetArrayLength() > SamplingOptions.MaxStopStrings)
                    throw Bad($"stop: at most {SamplingOptions.MaxStopStrings} stop strings, got {s.GetArrayLength()}", "stop");
                foreach (var item in s.EnumerateArray())
                    stop.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Bad("stop must be a string or a list of strings", "stop"));
            }
            else throw Bad("stop must be a string or a list of strings", "stop");
        }

        // OpenAI's pair: "logprobs": true asks for each token's, "top_logprobs": N adds N alternatives (and needs the former).
        bool logprobs = Bool(root, "logprobs", "logprobs") ?? false;
        long? top = Integer(root, "top_logprobs");
        if (top != null && !logprobs) throw Bad("top_logprobs needs \"logprobs\": true", "top_logprobs");

        var sampling = new SamplingOptions
        {
            Temperature = temperature, TopP = topP, MinP = minP, RepeatPenalty = repeatPenalty, RepeatLastN = repeatLastN, TopK = topK, Seed = seed,
            FrequencyPenalty = frequency, PresencePenalty = presence,
            MaxTokens = maxTokens == 0 ? null : maxTokens, Stop = stop,
            Logprobs = logprobs ? (int)Math.Clamp(top ?? 0, int.MinValue, int.MaxValue) : null,
            Format = format,
            LogitBias = LogitBias(root),
        };
        var v = new RequestValidator(coreOptions);
        v.Sampling(sampling);
        if (v.Violations.Count > 0)
        {
            var named = v.Violations.Select(x => (Field: x.Field switch
            {
                "max_tokens" => maxField,
                "sampling.logprobs" => "top_logprobs",
                // vLLM names a bad choice by its index in the list it came in.
                _ when x.Field.StartsWith("sampling.format.choices", StringComparison.Ordinal) =>
                    formatField + x.Field["sampling.format.choices".Length..],
                _ when x.Field.StartsWith("sampling.format", StringComparison.Ordinal) => formatField,
                _ => x.Field.Replace("sampling.", ""),
            }, x.Description)).ToArray();
            throw Bad(string.Join("; ", named.Select(x => $"{x.Field}: {x.Description}")), named[0].Field);
        }
        return sampling;
    }

    /// <summary>OpenAI's logit_bias, {"token id": bias}; llama.cpp's false for a bias bans the token (-100 here).</summary>
    static Dictionary<int, float>? LogitBias(JsonElement root)
    {
        if (!Present(root, "logit_bias", out var list)) return null;
        if (list.ValueKind != JsonValueKind.Object) throw Bad("logit_bias must be an object of token ids and biases", "logit_bias");
        var bias = new Dictionary<int, float>();
        foreach (var p in list.EnumerateObject())
        {
            // Counted as they are read: a 32 MB body could hold millions.
            if (bias.Count == SamplingOptions.MaxLogitBias)
                throw Bad($"logit_bias: at most {SamplingOptions.MaxLogitBias} token ids", "logit_bias");
            if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                throw Bad($"logit_bias: '{Quoted(p.Name)}' is not a token id", "logit_bias");
            bias[id] = p.Value.ValueKind switch
            {
                JsonValueKind.Number when p.Value.TryGetDouble(out double d) => (float)d,
                JsonValueKind.False => -Ban,
                _ => throw Bad($"logit_bias[{id}] must be a number in [-100, 100] (or false, a ban)", $"logit_bias[{id}]"),
            };
        }
        return bias.Count > 0 ? bias : null;
    }

    const float Ban = 100;

    static string Quoted(string key) => key.Length <= 32 ? key : key[..32] + "…";

    string CheckedText(string text, string field)
    {
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > options.MaxPromptBytes) throw Bad($"{field} is {bytes} bytes; the limit is {options.MaxPromptBytes}", field, "prompt_too_large");
        historyBytes += bytes;
        if (historyBytes > coreOptions.MaxHistoryBytes)
            throw Bad($"messages: {RequestValidator.HistoryBytes(coreOptions.MaxHistoryBytes)}, reached at {field}", "messages", "history_too_long");
        return text;
    }

    static string PartType(JsonElement part, string field)
    {
        if (part.ValueKind != JsonValueKind.Object) throw Bad($"{field} must be an object with a type", field);
        return RequiredString(part, "type", field + ".type");
    }

    static bool Present(JsonElement obj, string name, out JsonElement value) => RequestJson.Present(obj, name, out value);

    static string RequiredString(JsonElement obj, string name, string field) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad($"{field} must be a string", field);

    static string? String(JsonElement obj, string name) =>
        !Present(obj, name, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad($"{name} must be a string", name);

    static bool? Bool(JsonElement obj, string name, string field) =>
        !Present(obj, name, out var v) ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad($"{field} must be true or false", field);

    static double? Number(JsonElement obj, string name) =>
        !Present(obj, name, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d
        : throw Bad($"{name} must be a finite number, got {Describe(v)}", name);

    static long? Integer(JsonElement obj, string name) =>
        !Present(obj, name, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n
        : throw Bad($"{name} must be an integer, got {Describe(v)}", name);

    static string Describe(JsonElement v)
    {
        string raw = v.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "…";
    }

    static OpenAiException Bad(string message, string? param, string? code = null) => OpenAiException.BadRequest(message, param, code);
}
