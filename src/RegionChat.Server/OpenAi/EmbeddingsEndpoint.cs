using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Server.OpenAi.Internal;

namespace RegionChat.Server.OpenAi;

/// <summary>
/// POST /v1/embeddings on the HTTP listener: OpenAI's embeddings API over the model's classifier, so texts land in the
/// joint CLIP space its regions are in (the gRPC Embed as JSON). Body: <c>{"model"?, "input": "…" | ["…", …],
/// "encoding_format"?: "float" | "base64", "dimensions"?: n}</c> plus the extension <c>"image"</c> (a data: URL) with
/// <c>"regions"</c>, whose vectors come in <c>"region_embeddings"</c>; answer <c>{"object": "list", "data": [{"object":
/// "embedding", "index", "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}</c>. Errors are OpenAI-shaped.
/// </summary>
internal static class EmbeddingsEndpoint
{
    public static Task HandleAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /v1/embeddings", admit: true,
            () => OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes), async (requestId, body) =>
        {
            var (request, base64, dimensions) = RequestJson.Read(body, root => Read(root, new ImageUrlReader(options.Value), core.Options));
            request = request with { RequestId = requestId };
            // Checked before the work (an unknown model or one without a classifier is the core's to refuse).
            if (dimensions is { } d && core.Model(request.Model) is { HasClassifier: true } model && d != model.EmbeddingWidth)
                throw OpenAiException.BadRequest($"dimensions: model '{model.Id}' embeds in {model.EmbeddingWidth} dimensions and cannot shorten " +
                    $"them, got {d}", "dimensions", "unsupported_parameter");
            var result = await core.EmbedAsync(request, http.RequestAborted).ConfigureAwait(false);
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            w.WriteStartObject();
            w.WriteString("object", "list");
            WriteList(w, "data", result.Texts, base64);
            if (request.Image != null) WriteList(w, "region_embeddings", result.Regions, base64);
            w.WriteString("model", result.Model);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", result.TextTokens);
            w.WriteNumber("total_tokens", result.TextTokens);
            w.WriteEndObject();
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    static void WriteList(Utf8JsonWriter w, string name, IReadOnlyList<float[]> vectors, bool base64)
    {
        w.WriteStartArray(name);
        for (int i = 0; i < vectors.Count; i++)
        {
            w.WriteStartObject();
            w.WriteString("object", "embedding");
            w.WriteNumber("index", i);
            // base64: the little-endian float32 bytes, as OpenAI sends them (its Python client asks for this by default).
            if (base64) w.WriteBase64String("embedding", MemoryMarshal.AsBytes(vectors[i].AsSpan()));
            else
            {
                w.WriteStartArray("embedding");
                foreach (float v in vectors[i]) w.WriteNumberValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    static (EmbedRequest Request, bool Base64, int? Dimensions) Read(JsonElement root, ImageUrlReader images, RegionChatCoreOptions options)
    {
        string model = RequestJson.Model(root);
        var texts = new List<string>();
        if (RequestJson.Present(root, "input", out var input))
        {
            if (input.ValueKind == JsonValueKind.String) texts.Add(input.GetString()!);
            else if (input.ValueKind == JsonValueKind.Array)
            {
                if (input.GetArrayLength() > 1000) throw OpenAiException.BadRequest($"input holds {input.GetArrayLength()} texts; the limit is 1000", "input");
                int k = 0;
                foreach (var text in input.EnumerateArray())
                {
                    // Token arrays (OpenAI's other input form) are ids of OpenAI's tokenizers, meaningless to this model.
                    if (text.ValueKind != JsonValueKind.String)
                        throw OpenAiException.BadRequest("must be a string (token arrays are ids of OpenAI's tokenizers, not this model's; " +
                            "LangChain's OpenAIEmbeddings sends them unless check_embedding_ctx_length=False)", $"input[{k}]");
                    texts.Add(text.GetString()!);
                    k++;
                }
            }
            else throw OpenAiException.BadRequest("input must be a string or an array of strings", "input");
        }
        bool base64 = false;
        if (RequestJson.Present(root, "encoding_format", out var format))
            base64 = format.ValueKind == JsonValueKind.String && format.GetString() is "float" or "base64"
                ? format.GetString() == "base64" : throw OpenAiException.BadRequest("encoding_format must be \"float\" or \"base64\"", "encoding_format");
        int? dimensions = null;
        if (RequestJson.Present(root, "dimensions", out var dims))
            dimensions = dims.ValueKind == JsonValueKind.Number && dims.TryGetInt32(out int d) && d > 0 ? d
                : throw OpenAiException.BadRequest("dimensions must be a positive integer", "dimensions");
        ImageInput? image = null;
        if (root.TryGetProperty("image", out var img) && img.ValueKind != JsonValueKind.Null)
            image = ImageInput.FromBytes(images.Read(img.ValueKind == JsonValueKind.String ? img.GetString()!
                : throw OpenAiException.BadRequest("image must be a data: URL string", "image"), "image"));
        var regions = RequestJson.Regions(root, options);
        // OpenAI's own field is the one missing; the image is this server's extension.
        if (texts.Count == 0 && image == null) throw OpenAiException.BadRequest("input is required: a string or an array of strings", "input");
        var request = new EmbedRequest { Model = model, Image = image, Regions = regions, Texts = texts, Fields = new ClassifyFields { Labels = "input" } };
        return (request, base64, dimensions);
    }
}
