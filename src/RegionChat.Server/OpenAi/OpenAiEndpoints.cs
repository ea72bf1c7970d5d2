using System.Text.Json;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Server.Internal;
using RegionChat.Server.OpenAi.Internal;

namespace RegionChat.Server.OpenAi;

/// <summary>
/// The OpenAI-compatible API: POST /v1/chat/completions (streaming and not), GET /v1/models and GET /v1/models/{id}
/// (models.retrieve), with vLLM's and llama.cpp's POST /tokenize and /detokenize beside it, on the same sessions,
/// visual-token cache, admission queue and API keys as the gRPC service. Regions ride along as the image's alpha
/// channel or a "region" field next to image_url; the README's "OpenAI-compatible API" section is the contract.
/// </summary>
public static class OpenAiEndpoints
{
    public static void AddOpenAi(IServiceCollection services) => services.AddSingleton<OpenAiCalls>();

    public static void MapOpenAi(IEndpointRouteBuilder app, string corsPolicy)
    {
        app.MapPost("/v1/chat/completions", ChatCompletionsAsync).RequireCors(corsPolicy);
        app.MapGet("/v1/models", ModelsAsync).RequireCors(corsPolicy);
        app.MapGet("/v1/models/{id}", ModelAsync).RequireCors(corsPolicy);
        app.MapPost("/v1/classify", ClassifyEndpoint.HandleAsync).RequireCors(corsPolicy);
        app.MapPost("/v1/embeddings", EmbeddingsEndpoint.HandleAsync).RequireCors(corsPolicy);
        app.MapPost("/tokenize", TokenizeEndpoints.TokenizeAsync).RequireCors(corsPolicy);
        app.MapPost("/detokenize", TokenizeEndpoints.DetokenizeAsync).RequireCors(corsPolicy);
    }

    /// <summary>Answers an empty 404 or 405 (an unknown path, a wrong method) with an OpenAI-shaped error body, so an
    /// OpenAI client shows what was wrong instead of failing to parse nothing.</summary>
    public static void UseErrorBodies(IApplicationBuilder app) => app.UseStatusCodePages(async context =>
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode is not (404 or 405)) return;
        string what = $"{http.Request.Method} {http.Request.Path}";
        var error = http.Response.StatusCode == 404
            ? new OpenAiException(404, "invalid_request_error",
                $"unknown request URL: {what}; the API is POST /v1/chat/completions, POST /v1/classify, POST /v1/embeddings, " +
                "GET /v1/models, GET /v1/models/{id}, POST /tokenize and POST /detokenize",
                code: "unknown_url")
            : new OpenAiException(405, "invalid_request_error", $"method not allowed: {what}", code: "method_not_allowed");
        http.Response.ContentType = "application/json; charset=utf-8";
        await http.Response.Body.WriteAsync(error.ToJson()).ConfigureAwait(false);
    });

    static Task ChatCompletionsAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /v1/chat/completions", admit: true,
            // Admitted once the body is read (within MaxRequestBytes): a slow upload holds a socket, not a queue slot.
            () => OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes), async (requestId, body) =>
        {
            JsonDocument json;
            try { json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 }); }
            catch (JsonException e)
            {
                throw OpenAiException.BadRequest($"the request body is not valid JSON: {e.Message}", code: "invalid_json");
            }
            ChatCompletionRequest request;
            using (json)
            {
                try { request = new ChatCompletionRequestReader(options.Value, core.Options).Read(json.RootElement); }
                // A string that is not text (bytes that are not UTF-8, half a surrogate pair) fails only when read.
                catch (InvalidOperationException) when (JsonText.FindInvalid(json.RootElement) is { } bad)
                {
                    throw OpenAiException.BadRequest($"{(bad.Path.Length > 0 ? bad.Path : "the request body")} {bad.Problem}",
                        bad.Path.Length > 0 ? bad.Path : null, "invalid_text");
                }
            }
            string header = http.Request.Headers[SessionIds.Header].ToString();
            var turn = new TurnRequest
            {
                Model = request.Model, SessionId = request.SessionId, Messages = request.Messages, Sampling = request.Sampling,
                SystemPrompt = request.SystemPrompt, KeepSession = true, Fields = new TurnFields("messages", "model")
                {
                    MaxTokens = request.MaxTokensField, Format = request.FormatField, LogitBias = "logit_bias",
                },
                RequestId = requestId,
                LikelyOneShot = request.SessionId.Length == 0 && header.Length == 0,
                NewSessionId = SessionHeader.NewSessionId(header, request.SessionId, "session_id"), VisualTokenBudget = request.VisualTokenBudget,
            };
            var responder = new ChatCompletionResponder(http.Response, request, requestId);
            await foreach (var e in core.RunTurnAsync(turn, http.RequestAborted).ConfigureAwait(false))
            {
                if (e is TurnStarted started && !http.Response.HasStarted) http.Response.Headers[SessionIds.Header] = started.SessionId;
                await responder.OnEventAsync(e).ConfigureAwait(false);
            }
            if (!http.RequestAborted.IsCancellationRequested) await responder.CompleteAsync().ConfigureAwait(false);
        });

    static Task ModelsAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core) =>
        calls.RunAsync(http, "GET /v1/models", admit: false, async _ =>
        {
            var list = core.ListModels();
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var m in list.Models) WriteModel(w, m, list.DefaultModel);
            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    static Task ModelAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, string id) =>
        calls.RunAsync(http, "GET /v1/models/{id}", admit: false, async _ =>
        {
            var list = core.ListModels();
            var model = list.Models.FirstOrDefault(m => m.Id == id)
                ?? throw new OpenAiException(404, "invalid_request_error",
                    $"model '{ClientText.Quote(id)}' is not served (models: {string.Join(", ", list.Models.Select(m => m.Id))})", "model", "model_not_found");
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            WriteModel(w, model, list.DefaultModel);
            await w.FlushAsync().ConfigureAwait(false);
        });

    static void WriteModel(Utf8JsonWriter w, ModelDescription m, string defaultModel)
    {
        w.WriteStartObject();
        w.WriteString("id", m.Id);
        w.WriteString("object", "model");
        w.WriteNumber("created", m.CreatedUnixSeconds);
        w.WriteString("owned_by", "regionchat");
        // RegionChat's own facts, for clients that look (the web page shows them).
        w.WriteBoolean("default", m.Id == defaultModel);
        w.WriteString("state", m.StateName);
        if (m.LoadError != null) w.WriteString("load_error", m.LoadError);
        if (m.State == ModelLoadState.Loaded)   // the facts a model's files give, once it is loaded
        {
            w.WriteNumber("context_size", m.ContextSize);
            // What one conversation may hold (prompt + answers, all turns), under vLLM's name for it.
            w.WriteNumber("max_model_len", m.SessionContext);
            w.WriteNumber("visual_tokens", m.VisualTokens);
            w.WriteNumber("image_size", m.ImageSize);
            w.WriteString("template", m.Template);
        }
        w.WriteEndObject();
    }
}
