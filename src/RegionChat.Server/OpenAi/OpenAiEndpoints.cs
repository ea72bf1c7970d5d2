using System.Text.Json;
using Microsoft.Extensions.Options;
using RegionChat.Server.Internal;
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

    static Task ChatCompletionsAsync(HttpContext http, OpenAiCalls calls, TurnRunner turns, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /v1/chat/completions", admit: true, async requestId =>
        {
            byte[] body = await OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes).ConfigureAwait(false);
            ChatCompletionRequest request;
            try
            {
                using var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
                request = new ChatCompletionRequestReader(options.Value).Read(json.RootElement);
            }
            catch (JsonException e)
            {
                throw OpenAiException.BadRequest($"the request body is not valid JSON: {e.Message}", code: "invalid_json");
            }
            var turn = new TurnRequest(request.Model, request.SessionId, request.Messages, request.Sampling, request.SystemPrompt,
                KeepSession: true, new TurnFields("messages", "model"));
            var responder = new ChatCompletionResponder(http.Response, request, requestId);
            await turns.RunAsync(turn, responder.OnEventAsync, requestId, http.RequestAborted).ConfigureAwait(false);
            if (!http.RequestAborted.IsCancellationRequested) await responder.CompleteAsync().ConfigureAwait(false);
        });

    static Task ModelsAsync(HttpContext http, OpenAiCalls calls, ModelRegistry models) =>
        calls.RunAsync(http, "GET /v1/models", admit: false, async _ =>
        {
            var list = ModelCatalog.List(models);
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body);
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var m in list.Models)
            {
                w.WriteStartObject();
                w.WriteString("id", m.Id);
                w.WriteString("object", "model");
                w.WriteNumber("created", Created(models, m.Id));
                w.WriteString("owned_by", "regionchat");
                // RegionChat's own facts, for clients that look (the web page shows them).
                w.WriteBoolean("default", m.Id == list.DefaultModel);
                w.WriteNumber("context_size", m.ContextSize);
                w.WriteNumber("visual_tokens", m.Projector.VisualTokens);
                w.WriteNumber("image_size", m.Vision.ImageSize);
                w.WriteString("template", m.Template);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    /// <summary>The model's creation time: when its model.json was written.</summary>
    static long Created(ModelRegistry models, string id) =>
        models.Manifests.TryGetValue(id, out var manifest) && File.Exists(Path.Combine(manifest.Directory, "model.json"))
            ? new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(manifest.Directory, "model.json"))).ToUnixTimeSeconds()
            : 0;
}
