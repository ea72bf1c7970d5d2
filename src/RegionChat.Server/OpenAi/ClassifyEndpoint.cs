using System.Text.Json;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Server.OpenAi.Internal;

namespace RegionChat.Server.OpenAi;

/// <summary>
/// POST /v1/classify on the HTTP listener: zero-shot region classification (the gRPC Classify as JSON). Body:
/// <c>{"model"?, "image": "data:image/png;base64,…", "regions"?: [region JSON…], "labels": ["…"] | "label_set": "id", "top"?: n}</c>;
/// answer: <c>{"object": "classification", "model", "regions": [{"labels": [{"label", "p", "logit"}]}]}</c>. Errors are
/// OpenAI-shaped: 400 with <c>param</c> naming the field, 404 for an unknown model or image.
/// </summary>
internal static class ClassifyEndpoint
{
    public static Task HandleAsync(HttpContext http, OpenAiCalls calls, RegionChatCore core, IOptions<ServerOptions> options) =>
        calls.RunAsync(http, "POST /v1/classify", admit: true,
            () => OpenAiCalls.ReadBodyAsync(http, options.Value.OpenAi.MaxRequestBytes), async (requestId, body) =>
        {
            var request = RequestJson.Read(body, root => Read(root, new ImageUrlReader(options.Value), core.Options)) with { RequestId = requestId };
            var result = await core.ClassifyAsync(request, http.RequestAborted).ConfigureAwait(false);
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var w = new Utf8JsonWriter(http.Response.Body, OpenAiJson.WriterOptions);
            w.WriteStartObject();
            w.WriteString("object", "classification");
            w.WriteString("model", result.Model);
            w.WriteStartArray("regions");
            foreach (var region in result.Regions)
            {
                w.WriteStartObject();
                w.WriteStartArray("labels");
                foreach (var l in region.Labels)
                {
                    w.WriteStartObject();
                    w.WriteString("label", l.Label);
                    w.WriteNumber("p", l.Probability);
                    w.WriteNumber("logit", l.Logit);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync().ConfigureAwait(false);
        });

    static ClassifyRequest Read(JsonElement root, ImageUrlReader images, RegionChatCoreOptions options)
    {
        string model = RequestJson.Model(root);
        if (!root.TryGetProperty("image", out var image)) throw OpenAiException.BadRequest("image is required (a data: URL)", "image");
        string url = image.ValueKind switch
        {
            JsonValueKind.String => image.GetString()!,
            JsonValueKind.Object when image.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String => u.GetString()!,
            _ => throw OpenAiException.BadRequest("image must be a data: URL string or {\"url\": …}", "image"),
        };
        var bytes = images.Read(url, "image");
        var regions = RequestJson.Regions(root, options);
        string labelSet = "";
        if (root.TryGetProperty("label_set", out var set))
            labelSet = set.ValueKind == JsonValueKind.String ? set.GetString()! : throw OpenAiException.BadRequest("label_set must be a string", "label_set");
        var labels = new List<string>();
        if (root.TryGetProperty("labels", out var l) || labelSet.Length == 0)
        {
            if (l.ValueKind != JsonValueKind.Array)
                throw OpenAiException.BadRequest("labels is required: an array of strings (or label_set: a stored set's id)", "labels");
            if (l.GetArrayLength() > 1000) throw OpenAiException.BadRequest($"labels holds {l.GetArrayLength()} labels; the limit is 1000", "labels");
            int k = 0;
            foreach (var label in l.EnumerateArray())
            {
                if (label.ValueKind != JsonValueKind.String) throw OpenAiException.BadRequest("must be a string", $"labels[{k}]");
                labels.Add(label.GetString()!);
                k++;
            }
        }
        int top = 0;
        if (root.TryGetProperty("top", out var t) && !(t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out top) && top >= 0))
            throw OpenAiException.BadRequest("top must be an integer ≥ 0", "top");
        return new ClassifyRequest { Model = model, Image = ImageInput.FromBytes(bytes), Regions = regions, Labels = labels, LabelSet = labelSet, Top = top };
    }
}
