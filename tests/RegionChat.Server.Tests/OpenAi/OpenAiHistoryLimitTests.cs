using System.Net;
using System.Text.Json.Nodes;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>
/// A request's history is bounded before it is tokenised: the messages it adds (RegionChat:MaxHistoryMessages) and
/// their text bytes (RegionChat:MaxHistoryBytes), each a 400 naming "messages" and the limit. A 28.6 MB history of 1000
/// messages was tokenised in full (8–60 s of CPU) before the context check refused it.
/// </summary>
public class OpenAiHistoryLimitTests
{
    static JsonObject History(int messages, int textBytes)
    {
        var list = new List<JsonNode>();
        for (int i = 0; i < messages; i++)
            list.Add(OpenAiHttp.Message(i % 2 == 0 ? "user" : "assistant", new string((char)('a' + i % 26), textBytes)));
        if (messages % 2 == 0) list.Add(OpenAiHttp.Message("user", "and now?"));
        return OpenAiHttp.Body(2, list.ToArray());
    }

    [Fact]
    public async Task TooManyMessagesOrTooMuchTextIsRefusedBeforeTokenising()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:MaxHistoryMessages"] = "9",
            ["RegionChat:MaxHistoryBytes"] = "4000",
            ["RegionChat:MaxPromptBytes"] = "2000",
        });
        using var http = OpenAiHttp.Http(host);
        async Task<double> PromptedAsync() => PrometheusText.Value(await host.MetricsAsync(), "regionchat_tokens_prompt_total") ?? 0;

        var messages = await OpenAiHttp.FailsAsync(http, History(11, 4));
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (messages.Status, messages.Param));
        Assert.Contains("11 messages", messages.Message);
        Assert.Contains("RegionChat:MaxHistoryMessages", messages.Message);

        // Three messages, each within MaxPromptBytes, together over MaxHistoryBytes.
        var bytes = await OpenAiHttp.FailsAsync(http, History(3, 1500));
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (bytes.Status, bytes.Param));
        Assert.Contains("4000", bytes.Message);
        Assert.Contains("RegionChat:MaxHistoryBytes", bytes.Message);
        Assert.Equal(0, await PromptedAsync()); // nothing reached the model

        // At the limits: answered.
        await OpenAiHttp.CompleteAsync(http, History(9, 4));
        await OpenAiHttp.CompleteAsync(http, History(3, 1000));
        Assert.True(await PromptedAsync() > 0);
    }

    [Fact]
    public async Task TheDefaultsRefuseAThousandMessageHistory()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var e = await OpenAiHttp.FailsAsync(http, History(999, 8));
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (e.Status, e.Param));
        Assert.Contains("256", e.Message);
    }
}
