using System.Net;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// The visual-token budget (issue 17.1) through the real server: gRPC visual_token_budget, the OpenAI extension and
/// RegionChat:Models:&lt;id&gt;:VisualTokenBudget keep that many visual tokens, usage reports them, the visual-token
/// cache keeps each budget apart, no budget answers as before, and bad budgets are refused naming the field.
/// </summary>
public class VisualTokenBudgetTests
{
    static readonly byte[] Scene = TestImages.Scene(61);

    static PbV1.ChatRequest Chat(uint? budget, byte[]? image = null)
    {
        var request = Calls.Chat("what is here?", image ?? Scene, Calls.Box(8, 8, 40, 40), maxTokens: 8);
        if (budget is { } b) request.VisualTokenBudget = b;
        return request;
    }

    static PbV1.CaptionRequest Caption(uint? budget, string model = "")
    {
        var request = new PbV1.CaptionRequest { Model = model, Image = new() { Data = ByteString.CopyFrom(Scene) }, Region = Calls.Box(8, 8, 40, 40), MaxTokens = 4 };
        if (budget is { } b) request.VisualTokenBudget = b;
        return request;
    }

    [Fact]
    public async Task ABudgetKeepsThatManyTokensReportsThemAndHasItsOwnCacheEntry()
    {
        await using var host = await ServerHost.StartAsync();
        var full = await host.Client.ChatAsync(Chat(null));
        Assert.Equal(16u, full.Started.VisualTokens);
        Assert.False(full.Finished.Timings.VisualCacheHit);

        // The same image and region with a budget: a miss (other rows), 5 tokens injected and reported.
        var five = await host.Client.ChatAsync(Chat(5));
        Assert.False(five.Finished.Timings.VisualCacheHit, "the budget's tokens came from the full budget's cache entry");
        Assert.Equal(5u, five.Started.VisualTokens);
        Assert.Equal(5u, five.Finished.Usage.VisualTokens);
        Assert.Equal(full.Started.PromptTokens - 11, five.Started.PromptTokens);

        var fiveAgain = await host.Client.ChatAsync(Chat(5));
        Assert.True(fiveAgain.Finished.Timings.VisualCacheHit);
        Assert.Equal(five.Text, fiveAgain.Text);
        Assert.False((await host.Client.ChatAsync(Chat(6))).Finished.Timings.VisualCacheHit);

        // A budget of at least the token count is the full budget: its cache entry and its answer.
        var all = await host.Client.ChatAsync(Chat(16));
        Assert.True(all.Finished.Timings.VisualCacheHit);
        Assert.Equal(16u, all.Finished.Usage.VisualTokens);
        Assert.Equal(full.Text, all.Text);

        var caption = await host.Client.CaptionAsync(Caption(3), deadline: Calls.Deadline());
        Assert.Equal(3u, caption.Usage.VisualTokens);
    }

    [Fact]
    public async Task BudgetZeroAnswersExactlyAsWithoutABudget()
    {
        await using var host = await ServerHost.StartAsync(("VisualCacheBytes", "0"));
        foreach (int scene in new[] { 62, 63 })
        {
            var image = TestImages.Scene(scene);
            var plain = await host.Client.ChatAsync(Chat(null, image));
            var zero = await host.Client.ChatAsync(Chat(0, image));
            Assert.Equal(plain.Text, zero.Text);
            Assert.Equal(plain.Started.PromptTokens, zero.Started.PromptTokens);
            Assert.Equal(16u, zero.Finished.Usage.VisualTokens);
        }
    }

    [Fact]
    public async Task TheModelSettingIsTheDefaultAndARequestOverridesIt()
    {
        await using var host = await ServerHost.StartAsync(("Models:tiny:VisualTokenBudget", "4"));
        Assert.Equal(4u, (await host.Client.ChatAsync(Chat(null))).Started.VisualTokens);
        Assert.Equal(16u, (await host.Client.ChatAsync(Chat(0))).Started.VisualTokens);
        Assert.Equal(7u, (await host.Client.ChatAsync(Chat(7))).Started.VisualTokens);

        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is it?", Scene));
        Assert.Equal(4, (int)(await OpenAiHttp.CompleteAsync(http, body))["usage"]!["visual_tokens"]!);
        body["visual_token_budget"] = 9;
        Assert.Equal(9, (int)(await OpenAiHttp.CompleteAsync(http, body))["usage"]!["visual_tokens"]!);
        body["visual_token_budget"] = 0;
        var streamed = await OpenAiHttp.StreamAsync(http, With(body, b => b["stream_options"] = new System.Text.Json.Nodes.JsonObject { ["include_usage"] = true }));
        Assert.Equal(16, (int)streamed.Chunks[^1]["usage"]!["visual_tokens"]!);
    }

    static System.Text.Json.Nodes.JsonObject With(System.Text.Json.Nodes.JsonObject body, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        var copy = body.DeepClone().AsObject();
        change(copy);
        return copy;
    }

    [Fact]
    public async Task AnOutOfRangeBudgetIsInvalidArgumentNamingTheFieldAndTheServerGoesOn()
    {
        await using var host = await ServerHost.StartAsync();
        var chat = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Chat(2_000_000), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.InvalidArgument, chat.StatusCode);
        Assert.Contains(Calls.Violations(chat), v => v.Field == "visual_token_budget" && v.Description.Contains("got 2000000"));

        var caption = await Calls.FailsAsync(() => host.Client.CaptionAsync(Caption(uint.MaxValue), deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, caption.StatusCode);
        Assert.Contains(Calls.Violations(caption), v => v.Field == "visual_token_budget");

        using (var stream = host.Client.CaptionStream(deadline: Calls.Deadline()))
        {
            await stream.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "a", Request = Caption(1 << 21) });
            await stream.RequestStream.CompleteAsync();
            var results = new List<PbV1.CaptionStreamResponse>();
            await foreach (var r in stream.ResponseStream.ReadAllAsync()) results.Add(r);
            var error = Assert.Single(results).Error;
            Assert.Equal((int)StatusCode.InvalidArgument, error.Code);
            Assert.Equal("request.visual_token_budget", Assert.Single(error.GetDetail<BadRequest>()!.FieldViolations).Field);
        }

        using var http = OpenAiHttp.Http(host);
        var good = OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is it?", Scene));
        foreach (System.Text.Json.Nodes.JsonNode bad in new System.Text.Json.Nodes.JsonNode[] { -1, 2_000_000, 1.5, "8" })
        {
            var e = await OpenAiHttp.FailsAsync(http, With(good, b => b["visual_token_budget"] = bad.DeepClone()));
            Assert.Equal(HttpStatusCode.BadRequest, e.Status);
            Assert.Equal("visual_token_budget", e.Param);
        }

        Assert.Equal(16u, (await host.Client.ChatAsync(Chat(null))).Started.VisualTokens);
    }

    [Fact]
    public async Task OnAModelWithAClsTokenBudgetOneIsRefusedAndTwoKeepsItAndOnePatch()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var one = await Calls.FailsAsync(() => host.Client.CaptionAsync(Caption(1), deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, one.StatusCode);
        Assert.Contains(Calls.Violations(one), v => v.Field == "visual_token_budget" && v.Description.Contains("CLS"));

        var seventeen = await host.Client.CaptionAsync(Caption(17), deadline: Calls.Deadline());
        Assert.Equal(17u, seventeen.Usage.VisualTokens);
        Assert.Equal(65u, (await host.Client.CaptionAsync(Caption(0), deadline: Calls.Deadline())).Usage.VisualTokens);
        var two = await host.Client.CaptionAsync(Caption(2), deadline: Calls.Deadline());
        Assert.Equal(2u, two.Usage.VisualTokens);
    }
}
