using System.Net;
using System.Text.Json.Nodes;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>POST /tokenize and /detokenize in vLLM's and llama.cpp's forms on the tiny model: the ids are the ones the
/// model generates (the gRPC logprobs' token ids detokenize to the answer), and bad requests are 400s naming the field.</summary>
public class TokenizeEndpointTests
{
    static async Task<JsonObject> PostAsync(HttpClient http, string path, JsonObject body) =>
        await OpenAiHttp.CompleteAsync(http, body, path: path);

    static int[] Ids(JsonObject answer) => answer["tokens"]!.AsArray().Select(t => (int)t!).ToArray();

    [Fact]
    public async Task TextGoesToTheModelsTokenIdsAndBack()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var vllm = await PostAsync(http, "/tokenize", new JsonObject { ["model"] = "tiny", ["prompt"] = "the red chair" });
        var llama = await PostAsync(http, "/tokenize", new JsonObject { ["content"] = "the red chair" });
        int[] withBos = Ids(vllm), plain = Ids(llama);
        Assert.Equal(withBos[1..], plain);                                   // vLLM's form adds BOS by default, llama.cpp's not
        Assert.Equal(plain.Length, (int)llama["count"]!);
        Assert.Equal(withBos, Ids(await PostAsync(http, "/tokenize", new JsonObject { ["content"] = "the red chair", ["add_special"] = true })));
        Assert.Equal(plain, Ids(await PostAsync(http, "/tokenize", new JsonObject { ["prompt"] = "the red chair", ["add_special_tokens"] = false })));
        var model = JsonNode.Parse(await http.GetStringAsync("/v1/models/tiny"))!.AsObject();
        Assert.Equal((int)model["max_model_len"]!, (int)vllm["max_model_len"]!);
        Assert.Equal("tiny", (string)vllm["model"]!);

        var back = await PostAsync(http, "/detokenize", new JsonObject { ["tokens"] = new JsonArray(plain.Select(t => (JsonNode)t).ToArray()) });
        Assert.Equal("the red chair", ((string)back["prompt"]!).TrimStart());
        Assert.Equal((string)back["prompt"]!, (string)back["content"]!);
        var pieces = await PostAsync(http, "/tokenize", new JsonObject { ["content"] = "the red chair", ["with_pieces"] = true });
        Assert.Equal(plain, pieces["tokens"]!.AsArray().Select(p => (int)p!["id"]!));
        Assert.Equal((string)back["prompt"]!, string.Concat(pieces["tokens"]!.AsArray().Select(p => (string)p!["piece"]!)));

        // A piece that is part of a character comes as its bytes; the pieces' bytes together are the text's.
        var split = await PostAsync(http, "/tokenize", new JsonObject { ["content"] = "h\u00e9llo \u2603 \ud83d\ude00", ["with_pieces"] = true });
        byte[] joined = split["tokens"]!.AsArray().SelectMany(p => p!["piece"] is JsonArray bytes
            ? bytes.Select(b => (byte)(int)b!) : System.Text.Encoding.UTF8.GetBytes((string)p["piece"]!)).ToArray();
        Assert.Equal("h\u00e9llo \u2603 \ud83d\ude00", System.Text.Encoding.UTF8.GetString(joined).TrimStart());
        Assert.Contains(split["tokens"]!.AsArray(), p => p!["piece"] is JsonArray);   // the tiny vocabulary spells the emoji in bytes

        // The ids are the ones generation uses: an answer's logprob token ids detokenize to the answer.
        var request = Calls.Chat("describe this region", maxTokens: 8);
        request.Sampling = new PbV1.SamplingParams { Logprobs = 0 };
        var chat = await host.Client.ChatAsync(request);
        var ids = chat.Events.Where(e => e.Delta != null).SelectMany(e => e.Delta.Logprobs).Select(t => (JsonNode)t.TokenId).ToArray();
        var answer = await PostAsync(http, "/detokenize", new JsonObject { ["tokens"] = new JsonArray(ids) });
        Assert.Equal(chat.Text, ((string)answer["prompt"]!).TrimStart());
    }

    [Fact]
    public async Task BadTokenizeRequestsAreFourHundredsNamingTheField()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        async Task Fails(string path, JsonObject body, HttpStatusCode status, string? param, string? has = null)
        {
            var e = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(body.ToJsonString(), path: path));
            Assert.Equal(status, e.Status);
            Assert.Equal(param, e.Param);
            if (has != null) Assert.Contains(has, e.Message);
        }
        await Fails("/tokenize", new JsonObject(), HttpStatusCode.BadRequest, "prompt", "\"content\"");
        await Fails("/tokenize", new JsonObject { ["prompt"] = "a", ["content"] = "a" }, HttpStatusCode.BadRequest, "content");
        await Fails("/tokenize", new JsonObject { ["prompt"] = 5 }, HttpStatusCode.BadRequest, "prompt", "string");
        await Fails("/tokenize", new JsonObject { ["content"] = "a", ["add_special"] = "yes" }, HttpStatusCode.BadRequest, "add_special");
        await Fails("/tokenize", new JsonObject { ["prompt"] = "a", ["model"] = "nope" }, HttpStatusCode.NotFound, "model", "nope");
        await Fails("/tokenize", new JsonObject { ["content"] = new string('a', 40_000) }, HttpStatusCode.BadRequest, "content", "limit");
        await Fails("/detokenize", new JsonObject { ["tokens"] = "1 2" }, HttpStatusCode.BadRequest, "tokens");
        await Fails("/detokenize", new JsonObject { ["tokens"] = new JsonArray(1, 2.5) }, HttpStatusCode.BadRequest, "tokens[1]");
        await Fails("/detokenize", new JsonObject { ["tokens"] = new JsonArray(1, 1 << 30) }, HttpStatusCode.BadRequest, "tokens[1]",
            "not a token id of model 'tiny'");
        await Fails("/detokenize", new JsonObject { ["tokens"] = new JsonArray(Enumerable.Range(0, 65537).Select(_ => (JsonNode)1).ToArray()) },
            HttpStatusCode.BadRequest, "tokens", "65536");
        var ok = await PostAsync(http, "/tokenize", new JsonObject { ["content"] = "" });
        Assert.Empty(Ids(ok));                                                  // and the server keeps serving
    }
}
