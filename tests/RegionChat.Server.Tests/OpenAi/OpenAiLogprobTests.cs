using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>"logprobs" and "top_logprobs" in OpenAI's shape: on the completion object, on each streamed chunk for the
/// tokens it shows, through the official .NET client, and refused when malformed.</summary>
public class OpenAiLogprobTests
{
    static JsonObject Body(int maxTokens) => OpenAiHttp.Body(maxTokens,
        OpenAiHttp.UserWithImage("describe this region", TestImages.Scene(412), new JsonObject { ["box"] = new JsonArray(0, 0, 24, 24) }));

    static void AssertToken(JsonNode token, int alternatives)
    {
        float logprob = (float)token["logprob"]!;
        Assert.True(logprob <= 0, $"logprob {logprob}");
        var bytes = token["bytes"]!.AsArray().Select(b => (byte)(int)b!).ToArray();
        Assert.Equal((string?)token["token"], Encoding.UTF8.GetString(bytes));
        var top = token["top_logprobs"]!.AsArray();
        Assert.Equal(alternatives, top.Count);
        if (alternatives > 0)
        {
            Assert.Equal((string?)token["token"], (string?)top[0]!["token"]);           // greedy: the best token
            Assert.Equal(logprob, (float)top[0]!["logprob"]!);
        }
    }

    static string Joined(IEnumerable<JsonNode> tokens) =>
        Encoding.UTF8.GetString(tokens.SelectMany(t => t["bytes"]!.AsArray().Select(b => (byte)(int)b!)).ToArray());

    [Fact]
    public async Task TheCompletionAndEachChunkCarryTheirTokensLogprobs()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);

        var plain = await OpenAiHttp.CompleteAsync(http, Body(10));
        Assert.Null(plain["choices"]![0]!["logprobs"]);

        var body = Body(10);
        body["logprobs"] = true;
        body["top_logprobs"] = 2;
        var completion = await OpenAiHttp.CompleteAsync(http, body);
        string content = (string)completion["choices"]![0]!["message"]!["content"]!;
        Assert.Equal((string)plain["choices"]![0]!["message"]!["content"]!, content);
        var tokens = completion["choices"]![0]!["logprobs"]!["content"]!.AsArray().Select(t => t!).ToList();
        Assert.Equal((int)completion["usage"]!["completion_tokens"]!, tokens.Count);
        Assert.All(tokens, t => AssertToken(t, 2));
        Assert.Equal(content, Joined(tokens).TrimStart());

        body["logprobs"] = true;
        body.Remove("top_logprobs");
        var streamed = await OpenAiHttp.StreamAsync(http, body);
        var pieces = streamed.Chunks.Select(c => c["choices"]!.AsArray().FirstOrDefault()).Where(c => c?["delta"]?["content"] != null).ToList();
        Assert.All(pieces, p => Assert.NotNull(p!["logprobs"]));
        var streamedTokens = pieces.SelectMany(p => p!["logprobs"]!["content"]!.AsArray().Select(t => t!)).ToList();
        Assert.Equal(tokens.Count, streamedTokens.Count);
        Assert.All(streamedTokens, t => AssertToken(t, 0));
        Assert.Equal(tokens.Select(t => (float)t["logprob"]!), streamedTokens.Select(t => (float)t["logprob"]!));
        Assert.Equal(streamed.Text, Joined(streamedTokens).TrimStart());

        // The official client reads them.
        var client = OpenAiHttp.Client(host);
        var message = new UserChatMessage(ChatMessageContentPart.CreateTextPart("describe this region"),
            ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(TestImages.Scene(412)), "image/png"));
        ChatCompletion answer = await client.CompleteChatAsync([message], new ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3,
        });
        Assert.Equal(answer.Usage.OutputTokenCount, answer.ContentTokenLogProbabilities.Count);
        Assert.All(answer.ContentTokenLogProbabilities, l =>
        {
            Assert.Equal(3, l.TopLogProbabilities.Count);
            Assert.Equal(l.Token, l.TopLogProbabilities[0].Token);
        });
    }
}
