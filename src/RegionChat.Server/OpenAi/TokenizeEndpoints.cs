using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Server.OpenAi.Internal;

namespace RegionChat.Server.OpenAi;

/// <summary>
/// POST /tokenize and /detokenize on the HTTP listener, as vLLM's and llama.cpp's servers have them: a text as the
/// model's LLM token ids (the ids logit_bias takes; a count) and back. Tokenize takes vLLM's form <c>{"model"?, "prompt",
/// "add_special_tokens"?: true}</c> or llama.cpp's <c>{"content", "add_special"?: false, "with_pieces"?: false}</c> and
/// answers <c>{"tokens", "count", "max_model_len", "model"}</c>, the tokens as <c>{"id", "piece"}</c> with
/// <c>with_pieces</c> (a piece that is not whole UTF-8 as its bytes, as llama.cpp does). Detokenize takes
/// <c>{"model"?, "tokens": [id, …]}</c> and answers the text under both servers' names, <c>{"prompt", "content",
/// "model"}</c>. Errors are OpenAI-shaped: 400 naming the field, 404 for a model not served.
/// </summary>
internal static class TokenizeEndpoints
{
    public static Task TokenizeAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /tokenize", admit: false,
            () => OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes), async (_, body) =>
        {
            var (model, text, field, addBos, pieces) = RequestJson.Read(body, ReadTokenize);
            var result = core.Tokenize(model, text, addBos, field);
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var t in result.Tokens)
            {
                if (!pieces) { w.WriteNumberValue(t.Id); continue; }
                w.WriteStartObject();
                w.WriteNumber("id", t.Id);
                if (Utf8.IsValid(t.Bytes)) w.WriteString("piece", t.Bytes);
                else
                {
                    w.WriteStartArray("piece");
                    foreach (byte b in t.Bytes) w.WriteNumberValue(b);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("count", result.Tokens.Count);
            w.WriteNumber("max_model_len", result.SessionContext);
            w.WriteString("model", result.Model);
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    public static Task DetokenizeAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /detokenize", admit: false,
            () => OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes), async (_, body) =>
        {
            var (model, tokens) = RequestJson.Read(body, ReadDetokenize);
            var result = core.Detokenize(model, tokens);
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            w.WriteStartObject();
            w.WriteString("prompt", result.Text);
            w.WriteString("content", result.Text);
            w.WriteString("model", result.Model);
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    /// <summary>vLLM's "prompt" adds BOS unless told not to; llama.cpp's "content" adds it only when told: each server's
    /// default goes with its field.</summary>
    static (string Model, string Text, string Field, bool AddBos, bool Pieces) ReadTokenize(JsonElement root)
    {
        string model = RequestJson.Model(root);
        bool vllm = RequestJson.Present(root, "prompt", out var prompt), llama = RequestJson.Present(root, "content", out var content);
        if (vllm == llama)
            throw OpenAiException.BadRequest("give the text as \"prompt\" (vLLM) or \"content\" (llama.cpp), one of them", vllm ? "content" : "prompt");
        string field = vllm ? "prompt" : "content";
        var text = vllm ? prompt : content;
        if (text.ValueKind != JsonValueKind.String) throw OpenAiException.BadRequest($"{field} must be a string", field);
        bool addBos = vllm ? Bool(root, "add_special_tokens") ?? true : Bool(root, "add_special") ?? false;
        return (model, text.GetString()!, field, addBos, Bool(root, "with_pieces") ?? false);
    }

    static (string Model, int[] Tokens) ReadDetokenize(JsonElement root)
    {
        string model = RequestJson.Model(root);
        if (!RequestJson.Present(root, "tokens", out var list) || list.ValueKind != JsonValueKind.Array)
            throw OpenAiException.BadRequest("tokens must be a list of token ids", "tokens");
        // Counted before the ids are copied out: a 32 MB body could hold millions.
        if (list.GetArrayLength() > RegionChatCore.MaxDetokenizeTokens)
            throw OpenAiException.BadRequest($"tokens: at most {RegionChatCore.MaxDetokenizeTokens} token ids, got {list.GetArrayLength()}", "tokens");
        var tokens = new int[list.GetArrayLength()];
        int i = 0;
        foreach (var id in list.EnumerateArray())
        {
            tokens[i] = id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out int t) ? t
                : throw OpenAiException.BadRequest($"tokens[{i}] must be a token id (a whole number)", $"tokens[{i}]");
            i++;
        }
        return (model, tokens);
    }

    static bool? Bool(JsonElement root, string name) =>
        !RequestJson.Present(root, name, out var v) ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw OpenAiException.BadRequest($"{name} must be true or false", name);
}
