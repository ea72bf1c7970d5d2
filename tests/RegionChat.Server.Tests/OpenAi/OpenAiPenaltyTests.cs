using System.Text.Json.Nodes;
using RegionChat.Server.TestHost;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>frequency_penalty and presence_penalty (OpenAI's, llama.cpp's): they change a greedy answer, the same way
/// over /v1 and gRPC, and top_k -1 (vLLM's "off") is top_k 0.</summary>
public class OpenAiPenaltyTests
{
    static JsonObject Body(Action<JsonObject>? change = null)
    {
        var body = OpenAiHttp.Body(24, OpenAiHttp.Message("user", "describe this region"));
        change?.Invoke(body);
        return body;
    }

    static async Task<string> AnswerAsync(HttpClient http, JsonObject body) =>
        (string)(await OpenAiHttp.CompleteAsync(http, body))["choices"]![0]!["message"]!["content"]!;

    [Fact]
    public async Task PenaltiesChangeTheGreedyAnswerAlikeOverV1AndGrpc()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        string plain = await AnswerAsync(http, Body());
        string penalised = await AnswerAsync(http, Body(b => { b["frequency_penalty"] = 2; b["presence_penalty"] = 2; }));
        Assert.NotEqual(plain, penalised);
        Assert.Equal(penalised, await AnswerAsync(http, Body(b => { b["frequency_penalty"] = 2; b["presence_penalty"] = 2; })));
        Assert.Equal(plain, await AnswerAsync(http, Body(b => b["top_k"] = -1)));

        var request = Calls.Chat("describe this region", maxTokens: 24);
        request.Sampling = new PbV1.SamplingParams { FrequencyPenalty = 2, PresencePenalty = 2 };
        var (call, _) = await host.Client.StartChatAsync(request);
        using (call)
        {
            var (grpc, _) = await Calls.FinishAsync(call);
            Assert.Equal(penalised, grpc);
        }
    }
}
