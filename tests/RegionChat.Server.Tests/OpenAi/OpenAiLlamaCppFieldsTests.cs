using System.Text.Json.Nodes;
using RegionChat.Server.TestHost;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>The llama.cpp server fields its clients send to /v1/chat/completions: n_predict, seed -1 and repeat_last_n
/// mean there what they mean in llama.cpp.</summary>
public class OpenAiLlamaCppFieldsTests
{
    static JsonObject Body(Action<JsonObject> change)
    {
        var body = OpenAiHttp.Body(24, OpenAiHttp.Message("user", "describe this region"));
        body.Remove("max_tokens");
        change(body);
        return body;
    }

    [Fact]
    public async Task NPredictLimitsTheAnswerWhenNoOpenAiLimitIsGiven()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var limited = await OpenAiHttp.CompleteAsync(http, Body(b => { b["n_predict"] = 3; b["temperature"] = 0; }));
        Assert.Equal(3, (int)limited["usage"]!["completion_tokens"]!);
        Assert.Equal("length", (string?)limited["choices"]![0]!["finish_reason"]);
        // max_tokens wins over it, as in llama.cpp's OpenAI endpoint.
        var both = await OpenAiHttp.CompleteAsync(http, Body(b => { b["n_predict"] = 3; b["max_tokens"] = 5; }));
        Assert.Equal(5, (int)both["usage"]!["completion_tokens"]!);
        // -1 is llama.cpp's "no limit": the most this server allows, which a 4096 context cannot hold beside the prompt.
        using var unlimited = await http.SendAsync(OpenAiHttp.Post(Body(b => b["n_predict"] = -1).ToJsonString()));
        Assert.Contains("n_predict", await unlimited.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SeedMinusOneIsRandomAndRepeatLastNZeroTurnsThePenaltiesOff()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        async Task<string> AnswerAsync(Action<JsonObject> change) =>
            (string)(await OpenAiHttp.CompleteAsync(http, Body(b => { b["max_tokens"] = 24; change(b); })))["choices"]![0]!["message"]!["content"]!;

        // Before, -1 folded to seed 0: the same "random" answer every time.
        var answers = new HashSet<string>();
        for (int i = 0; i < 4; i++) answers.Add(await AnswerAsync(b => { b["temperature"] = 2; b["seed"] = -1; }));
        Assert.True(answers.Count > 1, "seed -1 gave one answer four times");

        string plain = await AnswerAsync(_ => { });
        Assert.NotEqual(plain, await AnswerAsync(b => { b["frequency_penalty"] = 2; b["presence_penalty"] = 2; }));
        Assert.Equal(plain, await AnswerAsync(b => { b["frequency_penalty"] = 2; b["presence_penalty"] = 2; b["repeat_last_n"] = 0; }));
    }
}
