using System.Text.Json.Nodes;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>SamplingParams.logit_bias over gRPC and OpenAI's logit_bias over /v1 on the tiny model: a ban keeps a token
/// out of the greedy answer, a bias of 100 forces one, and both transports give the same answer for the same biases.</summary>
public class LogitBiasTests
{
    [Fact]
    public async Task ABiasBansOrForcesATokenTheSameOverGrpcAndV1()
    {
        await using var host = await ServerHost.StartAsync();
        async Task<(string Text, int[] Tokens)> Chat(Dictionary<int, float>? bias)
        {
            var request = Calls.Chat("describe this region", maxTokens: 8);
            request.Sampling = new PbV1.SamplingParams { Logprobs = 0 };
            if (bias != null) request.Sampling.LogitBias.Add(bias);
            var chat = await host.Client.ChatAsync(request);
            return (chat.Text, chat.Events.Where(e => e.Delta != null).SelectMany(e => e.Delta.Logprobs).Select(t => t.TokenId).ToArray());
        }
        var plain = await Chat(null);
        Assert.Equal(8, plain.Tokens.Length);
        int first = plain.Tokens[0];

        var banned = await Chat(new() { [first] = -100 });
        Assert.DoesNotContain(first, banned.Tokens);
        Assert.NotEqual(plain.Text, banned.Text);
        int forced = plain.Tokens.First(t => t != first);
        Assert.All((await Chat(new() { [forced] = 100 })).Tokens, t => Assert.Equal(forced, t));

        using var http = OpenAiHttp.Http(host);
        JsonObject Body(JsonNode bias)
        {
            var body = OpenAiHttp.Body(8, OpenAiHttp.Message("user", "describe this region"));
            body["logit_bias"] = bias;
            return body;
        }
        static string Content(JsonObject c) => (string)c["choices"]![0]!["message"]!["content"]!;
        Assert.Equal(banned.Text, Content(await OpenAiHttp.CompleteAsync(http, Body(new JsonObject { [first.ToString()] = -100 }))));
        Assert.Equal(banned.Text, Content(await OpenAiHttp.CompleteAsync(http, Body(new JsonObject { [first.ToString()] = false }))));
        Assert.Equal(plain.Text, Content(await OpenAiHttp.CompleteAsync(http, Body(new JsonObject()))));
    }
}
