using System.Text.Json;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Server.OpenAi.Internal;

namespace RegionChat.Server.OpenAi;

/// <summary>
/// The OpenAI-compatible API: POST /v1/chat/completions (streaming and not) and GET /v1/models, on the same sessions,
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
    }

    static Task ChatCompletionsAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /v1/chat/completions", admit: true, async requestId =>
        {
            byte[] body = await OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes).ConfigureAwait(false);
            ChatCompletionRequest request;
            try
            {
                using var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
                request = new ChatCompletionRequestReader(options.Value, core.Options).Read(json.RootElement);
            }
            catch (JsonException e)
            {
                throw OpenAiException.BadRequest($"the request body is not valid JSON: {e.Message}", code: "invalid_json");
            }
            var turn = new TurnRequest
            {
                Model = request.Model, SessionId = request.SessionId, Messages = request.Messages, Sampling = request.Sampling,
                SystemPrompt = request.SystemPrompt, KeepSession = true, Fields = new TurnFields("messages", "model"), RequestId = requestId,
            };
            var responder = new ChatCompletionResponder(http.Response, request, requestId);
            await foreach (var e in core.RunTurnAsync(turn, http.RequestAborted).ConfigureAwait(false))
                await responder.OnEventAsync(e).ConfigureAwait(false);
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
            foreach (var m in list.Models)
            {
                w.WriteStartObject();
                w.WriteString("id", m.Id);
                w.WriteString("object", "model");
                w.WriteNumber("created", m.CreatedUnixSeconds);
                w.WriteString("owned_by", "regionchat");
                // RegionChat's own facts, for clients that look (the web page shows them).
                w.WriteBoolean("default", m.Id == list.DefaultModel);
                w.WriteNumber("context_size", m.ContextSize);
                w.WriteNumber("visual_tokens", m.VisualTokens);
                w.WriteNumber("image_size", m.ImageSize);
                w.WriteString("template", m.Template);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });
}
