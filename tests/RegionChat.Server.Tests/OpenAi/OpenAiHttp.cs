using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>An OpenAI error answer as the client saw it.</summary>
sealed record OpenAiError(HttpStatusCode Status, string Message, string Type, string? Param, string? Code);

/// <summary>A streamed chat completion read as raw server-sent events.</summary>
sealed record SseResult(IReadOnlyList<JsonObject> Chunks, bool Done, string Text);

/// <summary>Calls to the OpenAI-compatible endpoint: through the official OpenAI client, or raw HTTP/1.1 where a test
/// needs the exact bytes (bad requests, extension fields, the SSE framing).</summary>
static class OpenAiHttp
{
    /// <summary>The official client pointed at the server's HTTP/1.1 listener; no retries, so failures show at once.</summary>
    public static ChatClient Client(ServerHost host, string model = "tiny", string key = "no-key") =>
        new(model, new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(host.HttpAddress, "v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
            NetworkTimeout = Calls.DefaultTimeout,
        });

    public static HttpClient Http(ServerHost host) => new()
    {
        BaseAddress = host.HttpAddress,
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = Calls.DefaultTimeout,
    };

    public static HttpRequestMessage Post(string json, string? key = null, string path = "/v1/chat/completions")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    /// <summary>A user message with text and an image part (data URL), the part optionally carrying a "region".</summary>
    public static JsonObject UserWithImage(string text, byte[] image, JsonNode? region = null)
    {
        var imagePart = new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = TestImages.DataUrl(image) } };
        if (region != null) imagePart["region"] = region;
        return new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }, imagePart) };
    }

    public static JsonObject Message(string role, string text) => new() { ["role"] = role, ["content"] = text };

    /// <summary>A greedy request body: model "tiny", temperature 0.</summary>
    public static JsonObject Body(int maxTokens, params JsonNode[] messages) => new()
    {
        ["model"] = "tiny",
        ["temperature"] = 0,
        ["max_tokens"] = maxTokens,
        ["messages"] = new JsonArray(messages),
    };

    /// <summary>Posts a non-streaming request that must succeed; returns the completion object.</summary>
    public static async Task<JsonObject> CompleteAsync(HttpClient http, JsonObject body, string? key = null, string path = "/v1/chat/completions")
    {
        using var response = await http.SendAsync(Post(body.ToJsonString(), key, path));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Posts a streaming request that must succeed and reads every event up to [DONE].</summary>
    public static async Task<SseResult> StreamAsync(HttpClient http, JsonObject body, string? key = null)
    {
        body["stream"] = true;
        using var response = await http.SendAsync(Post(body.ToJsonString(), key), HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK) Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var chunks = new List<JsonObject>();
        bool done = false;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            Assert.False(done, "an event came after [DONE]");
            string data = line["data: ".Length..];
            if (data == "[DONE]") done = true;
            else chunks.Add(JsonNode.Parse(data)!.AsObject());
        }
        string text = string.Concat(chunks.Select(c => (string?)c["choices"]?.AsArray().FirstOrDefault()?["delta"]?["content"] ?? ""));
        return new SseResult(chunks, done, text);
    }

    /// <summary>Sends a request that must fail; returns its OpenAI-shaped error.</summary>
    public static async Task<OpenAiError> FailsAsync(HttpClient http, HttpRequestMessage request)
    {
        using (request)
        using (var response = await http.SendAsync(request))
        {
            string text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode >= 400, $"expected an error, got {(int)response.StatusCode}: {text[..Math.Min(200, text.Length)]}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var error = JsonNode.Parse(text)!["error"]!.AsObject();
            // OpenAI's shape: all four keys present, param and code may be null.
            foreach (var key in new[] { "message", "type", "param", "code" }) Assert.True(error.ContainsKey(key), $"error lacks \"{key}\": {text}");
            var result = new OpenAiError(response.StatusCode, (string)error["message"]!, (string)error["type"]!, (string?)error["param"], (string?)error["code"]);
            Calls.AssertCleanMessage(result.Message);
            return result;
        }
    }

    public static Task<OpenAiError> FailsAsync(HttpClient http, JsonObject body, string? key = null) => FailsAsync(http, Post(body.ToJsonString(), key));
}
