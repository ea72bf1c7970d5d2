using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>
/// A table of bad requests on the OpenAI endpoint: each gets OpenAI's error shape with the right status, type, param and
/// code and no stack trace, and the server keeps serving afterwards.
/// </summary>
public class OpenAiBadRequestTests
{
    const string Key = "secret-key";
    const long MaxBody = 200_000;

    sealed record Case(string Name, Func<HttpRequestMessage> Request, HttpStatusCode Status, string? Param = null, string? Code = null, string? MessageHas = null);

    static JsonObject Good() => OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is it?", TestImages.Scene(321)));

    static JsonObject With(Action<JsonObject> change)
    {
        var body = Good();
        change(body);
        return body;
    }

    static JsonObject WithImageUrl(string url) => With(b => b["messages"]![0]!["content"]![1]!["image_url"]!["url"] = url);

    static JsonObject WithRegion(JsonNode region) => With(b => b["messages"]![0]!["content"]![1]!["region"] = region);

    static Func<HttpRequestMessage> Post(JsonObject body, string? key = Key) => () => OpenAiHttp.Post(body.ToJsonString(), key);

    static Func<HttpRequestMessage> Raw(string json, string? key = Key) => () => OpenAiHttp.Post(json, key);

    /// <summary>A body of raw bytes: <paramref name="json"/> with every '¤' replaced by <paramref name="bytes"/> (not UTF-8).</summary>
    static Func<HttpRequestMessage> RawBytes(string json, byte[] bytes, string? key = Key) => () =>
    {
        var parts = json.Split('¤').Select(Encoding.UTF8.GetBytes).ToArray();
        var body = parts.Skip(1).Aggregate(parts[0].AsEnumerable(), (all, part) => all.Concat(bytes).Concat(part)).ToArray();
        var request = OpenAiHttp.Post("", key);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return request;
    };

    static IEnumerable<Case> Cases()
    {
        const string image = "messages[0].content[1].image_url";
        const string region = "messages[0].content[1].region";
        yield return new("malformed JSON", Raw("{\"model\": \"tiny\", \"messages\": [}"), HttpStatusCode.BadRequest, Code: "invalid_json");
        yield return new("a literal NaN", Raw("{\"model\": \"tiny\", \"temperature\": NaN, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"), HttpStatusCode.BadRequest, Code: "invalid_json");
        yield return new("not an object", Raw("[1, 2]"), HttpStatusCode.BadRequest);
        yield return new("invalid UTF-8 in a message", RawBytes("{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hi ¤\"}]}", [0xFF, 0xC3]),
            HttpStatusCode.BadRequest, "messages[0].content", "invalid_text", "UTF-8");
        yield return new("invalid UTF-8 in a text part", RawBytes("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"¤\"}]}]}", [0xED, 0xA0, 0x80]),
            HttpStatusCode.BadRequest, "messages[0].content[0].text", "invalid_text", "UTF-8");
        yield return new("a lone surrogate escape", Raw("{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hi \\ud800\"}]}"),
            HttpStatusCode.BadRequest, "messages[0].content", "invalid_text", "surrogate");
        yield return new("a lone surrogate escape in the model", Raw("{\"model\": \"\\udc00x\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"),
            HttpStatusCode.BadRequest, "model", "invalid_text", "surrogate");
        yield return new("no messages", Post(With(b => b.Remove("messages"))), HttpStatusCode.BadRequest, "messages");
        yield return new("an answer to no question", Post(With(b => b["messages"] = new JsonArray(OpenAiHttp.Message("assistant", "hi")))), HttpStatusCode.BadRequest, "messages");
        yield return new("two answers at the end", Post(With(b =>
        {
            var messages = b["messages"]!.AsArray();
            messages.Add(OpenAiHttp.Message("assistant", "hi"));
            messages.Add(OpenAiHttp.Message("assistant", "there"));
        })), HttpStatusCode.BadRequest, "messages");
        yield return new("a tool message", Post(With(b => b["messages"]!.AsArray().Insert(0, OpenAiHttp.Message("tool", "42")))), HttpStatusCode.BadRequest, "messages[0].role");
        yield return new("two images in one message", Post(With(b => b["messages"]![0]!["content"]!.AsArray().Add(b["messages"]![0]!["content"]![1]!.DeepClone()))), HttpStatusCode.BadRequest, "messages[0].content[2]");
        yield return new("an audio part", Post(With(b => b["messages"]![0]!["content"]!.AsArray().Add(new JsonObject { ["type"] = "input_audio" }))), HttpStatusCode.BadRequest, "messages[0].content[2].type");
        yield return new("n = 2", Post(With(b => b["n"] = 2)), HttpStatusCode.BadRequest, "n");
        yield return new("20,000 stop strings", Post(With(b => b["stop"] = new JsonArray(Enumerable.Repeat(0, 20_000).Select(_ => (JsonNode?)"a").ToArray()))),
            HttpStatusCode.BadRequest, "stop", MessageHas: "at most 8");
        yield return new("an unsupported image (TGA)", Post(WithImageUrl(TestImages.DataUrl(TestImages.Tga(), "image/x-tga"))), HttpStatusCode.BadRequest, image, MessageHas: "not accepted");
        yield return new("a corrupt image (truncated PNG)", Post(WithImageUrl(TestImages.DataUrl(TestImages.TruncatedPng()))), HttpStatusCode.BadRequest, image);
        yield return new("not an image", Post(WithImageUrl(TestImages.DataUrl(TestImages.NotAnImage()))), HttpStatusCode.BadRequest, image);
        yield return new("a PNG header claiming 30000×30000", Post(WithImageUrl(TestImages.DataUrl(TestImages.PngHeaderClaiming(30000, 30000)))), HttpStatusCode.BadRequest, image);
        yield return new("bad base64", Post(WithImageUrl("data:image/png;base64,@@@@")), HttpStatusCode.BadRequest, image + ".url");
        yield return new("a data URL without base64", Post(WithImageUrl("data:image/png,rawbytes")), HttpStatusCode.BadRequest, image + ".url");
        yield return new("a remote https URL", Post(WithImageUrl("https://example.com/cat.png")), HttpStatusCode.BadRequest, image + ".url", "unsupported_image_url");
        yield return new("a remote http URL", Post(WithImageUrl("http://127.0.0.1:9/cat.png")), HttpStatusCode.BadRequest, image + ".url", "unsupported_image_url");
        yield return new("a local file (not enabled)", Post(WithImageUrl("file:///etc/hostname")), HttpStatusCode.BadRequest, image + ".url", "unsupported_image_url");
        yield return new("an oversized body", Post(With(b => b["padding"] = new string('x', (int)MaxBody))), HttpStatusCode.RequestEntityTooLarge, Code: "request_too_large");
        yield return new("an oversized prompt", Post(OpenAiHttp.Body(4, OpenAiHttp.Message("user", new string('a', 5000)))), HttpStatusCode.BadRequest, "messages[0].content", "prompt_too_large");
        yield return new("no key", Post(Good(), key: null), HttpStatusCode.Unauthorized, Code: "invalid_api_key");
        yield return new("a wrong key", Post(Good(), key: "secret-kez"), HttpStatusCode.Unauthorized, Code: "invalid_api_key");
        yield return new("an unknown model", Post(With(b => b["model"] = "gpt-4o")), HttpStatusCode.NotFound, "model", "model_not_found");
        yield return new("an unknown session", Post(With(b => b["session_id"] = "s-0123456789abcdef")), HttpStatusCode.NotFound, "session_id", "session_not_found");
        yield return new("a box outside the image", Post(WithRegion(new JsonObject { ["box"] = new JsonArray(100, 100, 120, 120) })), HttpStatusCode.BadRequest, region + ".box");
        yield return new("an unknown region kind", Post(WithRegion(new JsonObject { ["circle"] = 3 })), HttpStatusCode.BadRequest, region, "invalid_region");
        yield return new("a mask given as a server path", Post(WithRegion(new JsonObject { ["mask"] = "/etc/passwd" })), HttpStatusCode.BadRequest, region + ".mask", "invalid_region");
        yield return new("a mask of the wrong size", Post(WithRegion(new JsonObject { ["mask"] = TestImages.DataUrl(TestImages.Mask(32, 32, 0, 0, 8, 8)) })), HttpStatusCode.BadRequest, region + ".mask");
        yield return new("bad RLE in a union", Post(WithRegion(new JsonArray(new JsonObject { ["box"] = new JsonArray(0, 0, 8, 8) }, new JsonObject { ["rle"] = new JsonObject { ["size"] = new JsonArray(64, 64), ["counts"] = new JsonArray(5, 5) } }))), HttpStatusCode.BadRequest, region + "[1].rle.counts", "invalid_region");
        yield return new("a region at the top level (it would be ignored)", Post(With(b => b["region"] = new JsonObject { ["box"] = new JsonArray(0, 0, 8, 8) })),
            HttpStatusCode.BadRequest, "region", "invalid_region", "image_url");
        yield return new("a region on the message (it would be ignored)", Post(With(b => b["messages"]![0]!["region"] = new JsonObject { ["box"] = new JsonArray(0, 0, 8, 8) })),
            HttpStatusCode.BadRequest, "messages[0].region", "invalid_region", "image_url");
        yield return new("a region inside image_url (it would be ignored)",
            Post(With(b => b["messages"]![0]!["content"]![1]!["image_url"]!["region"] = new JsonObject { ["box"] = new JsonArray(0, 0, 8, 8) })),
            HttpStatusCode.BadRequest, image + ".region", "invalid_region", "image_url");
        yield return new("a region on a system message (it would be ignored)",
            Post(With(b => b["messages"]!.AsArray().Insert(0, new JsonObject { ["role"] = "system", ["content"] = "Be brief.",
                ["region"] = new JsonObject { ["box"] = new JsonArray(0, 0, 8, 8) } }))),
            HttpStatusCode.BadRequest, "messages[0].region", "invalid_region", "image_url");
        yield return new("a fully transparent RGBA image", Post(WithImageUrl(TestImages.DataUrl(TestImages.SceneWithAlpha(321, 0, 0, 0, 0)))), HttpStatusCode.BadRequest, image, MessageHas: "alpha");
        yield return new("temperature as the string NaN", Post(With(b => b["temperature"] = "NaN")), HttpStatusCode.BadRequest, "temperature");
        yield return new("a negative temperature", Post(With(b => b["temperature"] = -1)), HttpStatusCode.BadRequest, "temperature");
        yield return new("top_p 0", Post(With(b => b["top_p"] = 0)), HttpStatusCode.BadRequest, "top_p");
        yield return new("top_logprobs without logprobs", Post(With(b => b["top_logprobs"] = 2)), HttpStatusCode.BadRequest, "top_logprobs", MessageHas: "logprobs");
        yield return new("top_logprobs with logprobs false", Post(With(b => { b["logprobs"] = false; b["top_logprobs"] = 2; })),
            HttpStatusCode.BadRequest, "top_logprobs");
        yield return new("top_logprobs 21", Post(With(b => { b["logprobs"] = true; b["top_logprobs"] = 21; })), HttpStatusCode.BadRequest,
            "top_logprobs", MessageHas: "[0, 20]");
        yield return new("top_logprobs -1", Post(With(b => { b["logprobs"] = true; b["top_logprobs"] = -1; })), HttpStatusCode.BadRequest, "top_logprobs");
        yield return new("logprobs as a string", Post(With(b => b["logprobs"] = "yes")), HttpStatusCode.BadRequest, "logprobs");
        const HttpStatusCode bad = HttpStatusCode.BadRequest;
        const string unsupported = "unsupported_parameter";
        yield return new("response_format json_schema without one", Post(With(b => b["response_format"] = new JsonObject { ["type"] = "json_schema" })),
            bad, "response_format.json_schema", MessageHas: "schema");
        yield return new("response_format json_schema with a pattern", Post(With(b => b["response_format"] = new JsonObject
            {
                ["type"] = "json_schema",
                ["json_schema"] = new JsonObject { ["name"] = "r", ["schema"] = JsonNode.Parse("{\"type\": \"string\", \"pattern\": \"^a\"}") },
            })), bad, "response_format.json_schema.schema", MessageHas: "schema.pattern");
        yield return new("response_format as a string", Post(With(b => b["response_format"] = "text")), bad, "response_format", MessageHas: "json_object");
        yield return new("tools", Post(With(b => b["tools"] = Tools())), bad, "tools", unsupported);
        yield return new("legacy functions", Post(With(b => b["functions"] = new JsonArray(new JsonObject { ["name"] = "f" }))), bad, "functions", unsupported);
        yield return new("tool_choice required", Post(With(b => b["tool_choice"] = "required")), bad, "tool_choice", unsupported);
        yield return new("tool_choice naming a function", Post(With(b => b["tool_choice"] = new JsonObject { ["type"] = "function" })),
            bad, "tool_choice", unsupported);
        yield return new("logit_bias as a list", Post(With(b => b["logit_bias"] = new JsonArray(5, -100))), bad, "logit_bias");
        yield return new("logit_bias with a word", Post(With(b => b["logit_bias"] = new JsonObject { ["hello"] = -100 })), bad, "logit_bias",
            MessageHas: "'hello' is not a token id");
        yield return new("logit_bias of 101", Post(With(b => b["logit_bias"] = new JsonObject { ["5"] = 101 })), bad, "logit_bias[5]",
            MessageHas: "[-100, 100]");
        yield return new("logit_bias of a string", Post(With(b => b["logit_bias"] = new JsonObject { ["5"] = "-1" })), bad, "logit_bias[5]");
        yield return new("logit_bias of 1025 ids", Post(With(b => b["logit_bias"] = new JsonObject(Enumerable.Range(0, 1025)
            .Select(i => KeyValuePair.Create(i.ToString(), (JsonNode?)1))))), bad, "logit_bias", MessageHas: "at most 1024");
        yield return new("logit_bias outside the vocabulary", Post(With(b => b["logit_bias"] = new JsonObject { ["999999999"] = -100 })), bad,
            "logit_bias", MessageHas: "outside the model's vocabulary");
        yield return new("llama.cpp's grammar", Post(With(b => b["grammar"] = "root ::= \"yes\"")), bad, "grammar", unsupported, "grammar");
        yield return new("llama.cpp's json_schema with an empty anyOf", Post(With(b => b["json_schema"] = JsonNode.Parse("{\"anyOf\": []}"))), bad, "json_schema",
            MessageHas: "schema.anyOf");
        yield return new("guided_choice as a string", Post(With(b => b["guided_choice"] = "yes")), bad, "guided_choice", MessageHas: "list");
        yield return new("guided_choice empty", Post(With(b => b["guided_choice"] = new JsonArray())), bad, "guided_choice", MessageHas: "1 to 256");
        yield return new("guided_choice of 257", Post(With(b => b["guided_choice"] = new JsonArray(Enumerable.Range(0, 257).Select(i => (JsonNode)$"c{i}").ToArray()))),
            bad, "guided_choice", MessageHas: "got 257");
        yield return new("guided_choice with a number", Post(With(b => b["guided_choice"] = new JsonArray("yes", 2))), bad, "guided_choice[1]");
        yield return new("guided_choice with an empty string", Post(With(b => b["guided_choice"] = new JsonArray("yes", ""))), bad, "guided_choice[1]",
            MessageHas: "1 to 256 bytes");
        yield return new("guided_choice with a 257-byte string", Post(With(b => b["guided_choice"] = new JsonArray(new string('y', 257)))), bad,
            "guided_choice[0]");
        yield return new("two formats", Post(With(b => { b["response_format"] = new JsonObject { ["type"] = "json_object" };
            b["guided_choice"] = new JsonArray("yes"); })), bad, "guided_choice", MessageHas: "both");
        yield return new("structured_outputs regex with a lookahead", Post(With(b => b["structured_outputs"] = new JsonObject { ["regex"] = "(?=y)" })),
            bad, "structured_outputs.regex", MessageHas: "lookarounds");
        yield return new("structured_outputs grammar", Post(With(b => b["structured_outputs"] = new JsonObject { ["grammar"] = "root ::= x" })), bad,
            "structured_outputs.grammar", unsupported);
        yield return new("structured_outputs json_object 1", Post(With(b => b["structured_outputs"] = new JsonObject { ["json_object"] = 1 })), bad,
            "structured_outputs.json_object");
        yield return new("vLLM's guided_json as a number", Post(With(b => b["guided_json"] = 5)), bad, "guided_json", MessageHas: "JSON schema");
        yield return new("vLLM's guided_json as text that is not JSON", Post(With(b => b["guided_json"] = "{\"type\":")), bad, "guided_json",
            MessageHas: "not JSON");
        yield return new("vLLM's guided_regex not closed", Post(With(b => b["guided_regex"] = "(y.*")), bad, "guided_regex",
            MessageHas: "at character 1: this group is not closed");
        yield return new("vLLM's guided_regex as a list", Post(With(b => b["guided_regex"] = new JsonArray("y"))), bad, "guided_regex");
        yield return new("guided_regex and guided_choice", Post(With(b => { b["guided_regex"] = "y"; b["guided_choice"] = new JsonArray("y"); })), bad,
            "guided_regex", MessageHas: "both");
        yield return new("n_predict 0", Post(With(b => { b.Remove("max_tokens"); b["n_predict"] = 0; })), bad, "n_predict", MessageHas: "(or -1)");
        yield return new("repeat_last_n -2", Post(With(b => b["repeat_last_n"] = -2)), bad, "repeat_last_n");
        yield return new("frequency_penalty 2.5", Post(With(b => b["frequency_penalty"] = 2.5)), bad, "frequency_penalty", MessageHas: "[-2, 2]");
        yield return new("presence_penalty -3", Post(With(b => b["presence_penalty"] = -3)), bad, "presence_penalty");
        yield return new("presence_penalty as a string", Post(With(b => b["presence_penalty"] = "0")), bad, "presence_penalty");
        yield return new("negative max_tokens", Post(With(b => b["max_tokens"] = -5)), HttpStatusCode.BadRequest, "max_tokens");
        yield return new("huge max_completion_tokens", Post(With(b => b["max_completion_tokens"] = 1_000_000)), HttpStatusCode.BadRequest, "max_completion_tokens");
        // Within MaxTokensLimit (4096) but not beside the prompt in a 4096-position context: OpenAI's overflow code.
        yield return new("max_completion_tokens the context cannot hold", Post(With(b => b["max_completion_tokens"] = 4096)), HttpStatusCode.BadRequest,
            "max_completion_tokens", "context_length_exceeded");
        yield return new("fractional seed", Post(With(b => b["seed"] = 1.5)), HttpStatusCode.BadRequest, "seed");
        yield return new("stop as a number", Post(With(b => b["stop"] = 3)), HttpStatusCode.BadRequest, "stop");
        yield return new("stream as a string", Post(With(b => b["stream"] = "yes")), HttpStatusCode.BadRequest, "stream");
    }

    [Fact]
    public async Task EveryBadRequestGetsOpenAisErrorShapeAndTheServerKeepsServing()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ApiKeys:0"] = Key,
            ["RegionChat:OpenAi:MaxRequestBytes"] = MaxBody.ToString(),
            ["RegionChat:MaxPromptBytes"] = "4096",
        });
        using var http = OpenAiHttp.Http(host);
        var cases = Cases().ToList();
        Assert.True(cases.Count >= 30);
        var failures = new List<string>();
        foreach (var c in cases)
        {
            OpenAiError e;
            try { e = await OpenAiHttp.FailsAsync(http, c.Request()); }
            catch (Exception x) when (x is Xunit.Sdk.XunitException)
            {
                failures.Add($"{c.Name}: {x.Message}");
                continue;
            }
            if (e.Status != c.Status) failures.Add($"{c.Name}: status {(int)e.Status}, expected {(int)c.Status} ({e.Message})");
            if (c.Param != null && e.Param != c.Param) failures.Add($"{c.Name}: param '{e.Param}', expected '{c.Param}' ({e.Message})");
            if (c.Code != null && e.Code != c.Code) failures.Add($"{c.Name}: code '{e.Code}', expected '{c.Code}' ({e.Message})");
            if (c.MessageHas != null && !e.Message.Contains(c.MessageHas)) failures.Add($"{c.Name}: message '{e.Message}' lacks '{c.MessageHas}'");
            string expectedType = (int)c.Status switch { 401 => "authentication_error", 429 => "rate_limit_error", _ => "invalid_request_error" };
            if (e.Type != expectedType) failures.Add($"{c.Name}: type '{e.Type}', expected '{expectedType}'");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Still serving, with the key; nothing held; every failure counted by its status.
        var ok = await OpenAiHttp.CompleteAsync(http, Good(), Key);
        Assert.Equal("chat.completion", (string?)ok["object"]);
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
        var metrics = await host.MetricsAsync();
        double Count(string status) => PrometheusText.Value(metrics, "regionchat_requests_total", ("method", "POST /v1/chat/completions"), ("status", status)) ?? 0;
        Assert.Equal(cases.Count(c => c.Status == HttpStatusCode.BadRequest), Count("400"));
        Assert.Equal(2, Count("401"));
        Assert.Equal(1, Count("200"));
    }

    [Theory]
    [InlineData("/v1/embeddings", "{\"input\": \"a red circle\"}")]
    [InlineData("/v1/classify", "{\"labels\": [\"a\", \"b\"], \"image\": \"IMAGE\"}")]
    public async Task AModelWithoutAClassifierIsA400NamingTheModel(string path, string json)
    {
        await using var host = await ServerHost.StartAsync();   // the tiny random model: no classifier
        using var http = OpenAiHttp.Http(host);
        var e = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(json.Replace("IMAGE", TestImages.DataUrl(TestImages.Scene(321))), path: path));
        Assert.Equal((HttpStatusCode.BadRequest, "model", "model_not_supported"), (e.Status, e.Param, e.Code));
        Assert.Contains("classifier", e.Message);
    }

    [Fact]
    public async Task TheMaskBudgetBoundsAWholeRequestNotEachOfItsRegions()
    {
        // Each 64×64 mask (4,096 pixels) fits a budget of 6,000; two messages' masks together do not.
        await using var host = await ServerHost.StartAsync(("Regions:MaxMaskPixels", "6000"));
        using var http = OpenAiHttp.Http(host);
        JsonObject Masked(string text) => OpenAiHttp.UserWithImage(text, TestImages.Scene(321),
            new JsonObject { ["mask"] = TestImages.DataUrl(TestImages.Mask(64, 64, 0, 0, 8, 8)) });
        var one = OpenAiHttp.Body(2, Masked("what is it?"));
        Assert.Equal("chat.completion", (string?)(await OpenAiHttp.CompleteAsync(http, one))["object"]);
        var two = OpenAiHttp.Body(2, Masked("what is it?"), OpenAiHttp.Message("assistant", "ok"), Masked("and this?"));
        var e = await OpenAiHttp.FailsAsync(http, two);
        Assert.Equal((HttpStatusCode.BadRequest, "messages[2].content[1].region.mask", "invalid_region"), (e.Status, e.Param, e.Code));
        Assert.Contains("MaxMaskPixels", e.Message);
    }

    static JsonArray Tools() => new(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "f" } });

    [Fact]
    public async Task NeutralValuesOfUnsupportedFieldsAreAnsweredAsIfAbsent()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        string expected = (string)(await OpenAiHttp.CompleteAsync(http, Good()))["choices"]![0]!["message"]!["content"]!;
        var neutral = With(b =>
        {
            b["response_format"] = new JsonObject { ["type"] = "text" };
            b["tools"] = Tools();
            b["tool_choice"] = "none";                      // tools the model may not call
            b["logit_bias"] = new JsonObject();
            b["frequency_penalty"] = 0;
            b["presence_penalty"] = 0.0;
            b["functions"] = new JsonArray();
            b["user"] = "someone";                          // fields that do not touch the answer are ignored
            b["store"] = false;
        });
        Assert.Equal(expected, (string)(await OpenAiHttp.CompleteAsync(http, neutral))["choices"]![0]!["message"]!["content"]!);
        var auto = With(b => { b["tool_choice"] = "auto"; b["tools"] = new JsonArray(); });
        Assert.Equal(expected, (string)(await OpenAiHttp.CompleteAsync(http, auto))["choices"]![0]!["message"]!["content"]!);
    }

    [Fact]
    public async Task ALocalFileIsReadOnlyInsideTheAllowedFolder()
    {
        using var temp = new RegionChat.TestSupport.TempDir();
        string folder = temp.File("images");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "scene.png"), TestImages.Scene(322));
        File.WriteAllBytes(temp.File("outside.png"), TestImages.Scene(322));
        File.CreateSymbolicLink(Path.Combine(folder, "link.png"), temp.File("outside.png"));
        Directory.CreateSymbolicLink(Path.Combine(folder, "up"), temp.Path);
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:OpenAi:AllowedLocalImageFolder"] = folder });
        using var http = OpenAiHttp.Http(host);

        var byData = await OpenAiHttp.CompleteAsync(http, Good());
        string Answer(JsonObject o) => (string)o["choices"]![0]!["message"]!["content"]!;
        foreach (var url in new[] { "file://" + Path.Combine(folder, "scene.png"), "file://localhost" + Path.Combine(folder, "scene.png"), "scene.png" })
            Assert.Equal(Answer(byData), Answer(await OpenAiHttp.CompleteAsync(http, WithImageUrl(url))));

        foreach (var url in new[] { "../outside.png", "file://" + temp.File("outside.png"), "link.png", "up/outside.png", "missing.png", "file:///etc/hostname" })
        {
            var e = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(WithImageUrl(url).ToJsonString()));
            Assert.Equal(HttpStatusCode.BadRequest, e.Status);
            Assert.Equal("messages[0].content[1].image_url.url", e.Param);
            Assert.DoesNotContain(temp.Path, e.Message); // the server's paths are not echoed
        }
    }

    [Fact]
    public async Task AFifoOrAFolderInTheAllowedFolderIsRefusedWithoutBlocking()
    {
        using var temp = new RegionChat.TestSupport.TempDir();
        string folder = temp.File("images");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(folder, "pipe.png")))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:OpenAi:AllowedLocalImageFolder"] = folder });
        using var http = OpenAiHttp.Http(host);

        // Opening a FIFO blocks until a writer comes: the request held its queue slot for good. It is refused unopened.
        foreach (var url in new[] { "pipe.png", "file://" + Path.Combine(folder, "pipe.png"), "sub" })
        {
            var e = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(WithImageUrl(url).ToJsonString()));
            Assert.Equal(HttpStatusCode.BadRequest, e.Status);
            Assert.Equal("messages[0].content[1].image_url.url", e.Param);
            Assert.Contains("not a regular file", e.Message);
        }
        Assert.Equal("chat.completion", (string?)(await OpenAiHttp.CompleteAsync(http, Good()))["object"]);
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }
}
