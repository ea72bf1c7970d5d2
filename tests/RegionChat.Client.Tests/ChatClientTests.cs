using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.AI;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>The IChatClient against a real server: streaming, regions, sessions, errors, cancellation. Each answer is
/// compared with what the generated gRPC client gets for the same turn (greedy decoding, so they must be equal).</summary>
[Collection(ServerCollection.Name)]
public class ChatClientTests(ServerFixture server)
{
    static readonly byte[] Scene = Scenes.Png(1_000_000_101);
    static readonly ChatOptions Greedy = new() { Temperature = 0, MaxOutputTokens = 12 };

    IChatClient Chat => server.Client.AsIChatClient();

    static ChatMessage Ask(string text, params AIContent[] before) => new(ChatRole.User, [.. before, new TextContent(text)]);

    static PbV1.ChatRequest RawRequest(string text, PbV1.Region? region = null, uint maxTokens = 12, string session = "", bool image = true)
    {
        var request = new PbV1.ChatRequest
        {
            SessionId = session,
            Message = new PbV1.UserMessage { Text = text },
            Sampling = new PbV1.SamplingParams { Temperature = 0 },
            MaxTokens = maxTokens,
        };
        if (image) request.Message.Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(Scene) };
        if (region != null) request.Message.Region = region;
        return request;
    }

    static PbV1.Region RawBox(float x0, float y0, float x1, float y1) => new() { Box = new PbV1.Box { X0 = x0, Y0 = y0, X1 = x1, Y1 = y1 } };

    [Fact]
    public async Task StreamedUpdatesConcatenateToTheWholeAnswerAndTheGrpcAnswer()
    {
        var message = Ask("what is in the picture?", new DataContent(Scene, "image/png"));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in Chat.GetStreamingResponseAsync([message], Greedy, ServerFixture.Timeout())) updates.Add(u);
        var response = await Chat.GetResponseAsync([message], Greedy, ServerFixture.Timeout());
        var raw = await server.RawChatAsync(RawRequest("what is in the picture?"));

        string streamed = string.Concat(updates.Select(u => u.Text));
        Assert.Equal(raw.Text, streamed);
        Assert.Equal(raw.Text, response.Text);
        Assert.True(raw.Finished.Usage.CompletionTokens >= 2, $"the answer has {raw.Finished.Usage.CompletionTokens} tokens; the test needs a few");
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 2, "the answer did not arrive in pieces");

        // Every update names the session; the first arrives before any text; the last carries reason and usage.
        string session = Assert.Single(updates.Select(u => u.ConversationId).Distinct())!;
        Assert.StartsWith("s-", session);
        Assert.Equal("", updates[0].Text);
        Assert.Equal(raw.Finished.Reason == PbV1.FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.All(updates, u => Assert.Equal("tiny", u.ModelId));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));

        Assert.StartsWith("s-", response.ConversationId);
        Assert.NotEqual(session, response.ConversationId); // no ConversationId given: each call is a new session
        Assert.StartsWith("r-", response.ResponseId);
        Assert.Equal("tiny", response.ModelId);
        Assert.Equal(updates[^1].FinishReason, response.FinishReason);
        var usage = Assert.IsType<UsageDetails>(response.Usage);
        Assert.Equal(raw.Finished.Usage.PromptTokens, usage.InputTokenCount);
        Assert.Equal(raw.Finished.Usage.CompletionTokens, usage.OutputTokenCount);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.Equal(0, usage.CachedInputTokenCount);
        Assert.Equal(16, usage.AdditionalCounts![RegionChatChatClient.VisualTokensKey]);
        var timings = Assert.IsType<PbV1.Timings>(updates[^1].AdditionalProperties![RegionChatChatClient.TimingsKey]);
        Assert.True(timings.DecodeMs > 0);
    }

    [Fact]
    public async Task RegionsAsContentOrAdditionalPropertiesAnswerAsTheGrpcRegionDoes()
    {
        var rawWhole = await server.RawChatAsync(RawRequest("describe this region"));
        var rawBox = await server.RawChatAsync(RawRequest("describe this region", RawBox(0, 0, 24, 24)));
        var rawPolygon = await server.RawChatAsync(RawRequest("describe this region",
            new PbV1.Region { Polygon = new PbV1.Polygon { Points = { 40, 40, 63, 40, 63, 63, 40, 63 } } }));
        Assert.NotEqual(rawWhole.Text, rawBox.Text); // the region matters to this model
        Assert.NotEqual(rawBox.Text, rawPolygon.Text);

        // A typed RegionContent next to the image.
        var asContent = await Chat.GetResponseAsync(
            [Ask("describe this region", new DataContent(Scene, "image/png"), new RegionContent(ImageRegion.Box(0, 0, 24, 24)))], Greedy, ServerFixture.Timeout());
        Assert.Equal(rawBox.Text, asContent.Text);

        // "region" in the image content's AdditionalProperties, as an ImageRegion.
        var image = new DataContent(Scene, "image/png") { AdditionalProperties = new() { ["region"] = ImageRegion.Polygon([(40, 40), (63, 40), (63, 63), (40, 63)]) } };
        Assert.Equal(rawPolygon.Text, (await Chat.GetResponseAsync([Ask("describe this region", image)], Greedy, ServerFixture.Timeout())).Text);

        // In the message's AdditionalProperties, in the JSON region form.
        var message = Ask("describe this region", new DataContent(Scene, "image/png"));
        message.AdditionalProperties = new() { ["region"] = """{"box": [0, 0, 24, 24]}""" };
        Assert.Equal(rawBox.Text, (await Chat.GetResponseAsync([message], Greedy, ServerFixture.Timeout())).Text);

        // In ChatOptions.AdditionalProperties, as a JsonElement (what a deserialised request holds).
        var options = Greedy.Clone();
        options.AdditionalProperties = new() { ["region"] = JsonDocument.Parse("""{"polygon": [[40, 40], [63, 40], [63, 63], [40, 63]]}""").RootElement };
        Assert.Equal(rawPolygon.Text, (await Chat.GetResponseAsync([Ask("describe this region", new DataContent(Scene, "image/png"))], options, ServerFixture.Timeout())).Text);

        // No region anywhere: the whole image.
        Assert.Equal(rawWhole.Text, (await Chat.GetResponseAsync([Ask("describe this region", new DataContent(Scene, "image/png"))], Greedy, ServerFixture.Timeout())).Text);
    }

    [Fact]
    public async Task ASecondTurnWithTheConversationIdReusesTheSessionAsTheGrpcSessionDoes()
    {
        var history = new List<ChatMessage>
        {
            new(ChatRole.System, "a chat about shapes"),
            Ask("what is this?", new DataContent(Scene, "image/png"), new RegionContent(ImageRegion.Box(0, 0, 32, 32))),
        };
        var first = await Chat.GetResponseAsync(history, Greedy, ServerFixture.Timeout());
        history.AddMessages(first);
        history.Add(Ask("what color is it?"));
        var options = Greedy.Clone();
        options.ConversationId = first.ConversationId;
        var second = await Chat.GetResponseAsync(history, options, ServerFixture.Timeout());

        Assert.Equal(first.ConversationId, second.ConversationId);
        Assert.True(second.Usage!.CachedInputTokenCount > 0, "the second turn did not reuse the session's KV cache");
        Assert.Equal(0, second.Usage.AdditionalCounts![RegionChatChatClient.VisualTokensKey]);

        // The same two turns through the generated client: same answers, same accounting. Had the earlier messages
        // been sent again, the second prompt would be longer than the raw one.
        var t1Request = RawRequest("what is this?", RawBox(0, 0, 32, 32));
        t1Request.SystemPrompt = "a chat about shapes";
        var t1 = await server.RawChatAsync(t1Request);
        var t2 = await server.RawChatAsync(RawRequest("what color is it?", session: t1.Started.SessionId, image: false));
        Assert.Equal(t1.Text, first.Text);
        Assert.Equal(t2.Text, second.Text);
        Assert.Equal(t2.Finished.Usage.CachedTokens, second.Usage.CachedInputTokenCount);
        Assert.Equal(t2.Finished.Usage.PromptTokens, second.Usage.InputTokenCount);
    }

    [Fact]
    public async Task HistoryWithoutAConversationIdIsRefusedWithAClearMessage()
    {
        ChatMessage[] history = [Ask("hi"), new(ChatRole.Assistant, "hello"), Ask("and now?")];
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => Chat.GetResponseAsync(history, Greedy));
        Assert.Contains("ConversationId", e.Message);
    }

    [Fact]
    public async Task AnUnknownConversationIdIsAnErrorNamingNotFound()
    {
        var options = Greedy.Clone();
        options.ConversationId = "s-does-not-exist";
        var e = await Assert.ThrowsAsync<RegionChatException>(() => Chat.GetResponseAsync([Ask("still there?")], options, ServerFixture.Timeout()));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, e.StatusCode);
        Assert.Contains("NotFound", e.Message);
        Assert.Contains("s-does-not-exist", e.Message);
        Assert.Equal("Chat", e.Method);
        Assert.IsType<Grpc.Core.RpcException>(e.InnerException);

        // Streaming fails the same way, on the first MoveNext.
        await Assert.ThrowsAsync<RegionChatException>(async () =>
        {
            await foreach (var _ in Chat.GetStreamingResponseAsync([Ask("still there?")], options, ServerFixture.Timeout())) { }
        });
    }

    [Fact]
    public async Task BadInputIsInvalidArgumentNamingTheField()
    {
        var message = Ask("what is here?", new DataContent(Scene, "image/png"), new RegionContent(ImageRegion.Box(100, 100, 120, 120)));
        var e = await Assert.ThrowsAsync<RegionChatException>(() => Chat.GetResponseAsync([message], Greedy, ServerFixture.Timeout()));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("message.region.box", Assert.Single(e.FieldViolations).Field);
        Assert.Contains("message.region.box", e.Message);
        Assert.StartsWith("r-", e.RequestId);
    }

    [Fact]
    public async Task CancellingMidStreamStopsTheAnswerAndFreesTheSequence()
    {
        // A text-only greedy answer that runs for thousands of tokens with this model (finish reason LENGTH, not STOP).
        var longAnswer = new ChatOptions { Temperature = 0, MaxOutputTokens = 3000 };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int pieces = 0;
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var u in Chat.GetStreamingResponseAsync([Ask("describe this region")], longAnswer, cts.Token))
                if (u.Text.Length > 0 && ++pieces == 3) cts.Cancel();
        });
        Assert.Equal(3, pieces);
        await AssertServedAtOnceAsync();

        // Leaving the loop early (no token) also ends the call on the server.
        pieces = 0;
        await foreach (var u in Chat.GetStreamingResponseAsync([Ask("describe this region")], longAnswer, ServerFixture.Timeout()))
            if (u.Text.Length > 0 && ++pieces == 3) break;
        await AssertServedAtOnceAsync();
    }

    /// <summary>The server's only sequence is free: a new request does not wait in the queue.</summary>
    async Task AssertServedAtOnceAsync()
    {
        var response = await Chat.GetResponseAsync([Ask("are you free?", new DataContent(Scene, "image/png"))], Greedy, ServerFixture.Timeout(20));
        var timings = Assert.IsType<PbV1.Timings>(response.AdditionalProperties![RegionChatChatClient.TimingsKey]);
        Assert.True(timings.QueueMs < 1000, $"the next request queued for {timings.QueueMs:F0} ms");
    }

    [Fact]
    public async Task AWrongOrMissingApiKeyIsAnErrorNamingUnauthenticated()
    {
        foreach (string? key in new[] { "wrong-key", null })
        {
            using var chat = new RegionChatChatClient(server.Host.Address.ToString(), key);
            var e = await Assert.ThrowsAsync<RegionChatException>(() => chat.GetResponseAsync([Ask("hi")], Greedy, ServerFixture.Timeout()));
            Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, e.StatusCode);
            Assert.Contains("Unauthenticated", e.Message);
            Assert.Contains("API key", e.Message);
        }
    }

    [Fact]
    public void MetadataNamesTheProviderAddressAndModel()
    {
        using var chat = server.Client.AsIChatClient("tiny");
        var metadata = Assert.IsType<ChatClientMetadata>(chat.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("regionchat", metadata.ProviderName);
        Assert.Equal(server.Host.Address, metadata.ProviderUri);
        Assert.Equal("tiny", metadata.DefaultModelId);
        Assert.Same(server.Client, chat.GetService<RegionChatClient>());
        Assert.Same(server.Client.Grpc, chat.GetService<PbV1.RegionChat.RegionChatClient>());
        Assert.Same(chat, chat.GetService<IChatClient>());
        Assert.Null(chat.GetService<ChatClientMetadata>("some key"));
    }

    [Fact]
    public async Task AnUnknownModelIdIsNotFound()
    {
        var options = Greedy.Clone();
        options.ModelId = "no-such-model";
        var e = await Assert.ThrowsAsync<RegionChatException>(() => Chat.GetResponseAsync([Ask("hi")], options, ServerFixture.Timeout()));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, e.StatusCode);
        Assert.Contains("no-such-model", e.Message);
    }
}
