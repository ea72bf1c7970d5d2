#pragma warning disable SCME0001 // JsonPatch (the OpenAI client's extra-JSON mechanism) is marked experimental
using System.Text;
using OpenAI.Chat;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>
/// The official OpenAI .NET client against the OpenAI-compatible endpoint: regions as RGBA images and as the "region"
/// extension, streaming and not, and greedy answers equal to the gRPC Chat answers for the same image, region and
/// question (the tiny random model's text is gibberish but deterministic, so equality is a real check).
/// </summary>
public class OpenAiClientTests
{
    const string Question = "describe this region";
    const int MaxTokens = 12;

    static ChatCompletionOptions Greedy() => new() { Temperature = 0, MaxOutputTokenCount = MaxTokens };

    static async Task<(string Text, ChatFinishReason? Reason, ChatTokenUsage? Usage, string? Session, BinaryData? Timings)> StreamAsync(
        ChatClient client, IEnumerable<ChatMessage> messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        ChatFinishReason? reason = null;
        ChatTokenUsage? usage = null;
        string? session = null;
        BinaryData? timings = null;
        int updates = 0;
        await foreach (var u in client.CompleteChatStreamingAsync(messages, options))
        {
            updates++;
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            reason ??= u.FinishReason;
            usage ??= u.Usage;
            string? id = u.Patch.GetString("$.session_id"u8);
            Assert.False(string.IsNullOrEmpty(id), "an update lacks session_id");
            Assert.True(session == null || session == id, "the session id changed mid-stream");
            session = id;
            if (u.Patch.Contains("$.timings"u8)) timings = u.Patch.GetJson("$.timings"u8);
        }
        Assert.True(updates >= 2, $"only {updates} updates");
        return (text.ToString(), reason, usage, session, timings);
    }

    [Fact]
    public async Task AnRgbaImagesAlphaRegionDecodesTheImageEvenWhenItsTowerPixelsAreKept()
    {
        // Visual-token cache off: every turn encodes. gRPC turns about the RGBA image keep its tower pixels, so its second
        // region is not decoded; the RGBA framing makes its region from the image's own alpha, so it decodes again, and it
        // answers as gRPC does with that alpha as a mask.
        await using var host = await ServerHost.StartAsync(("VisualCacheBytes", "0"));
        var rgba = TestImages.SceneWithAlpha(303, 8, 8, 40, 40);
        var boxed = await host.Client.ChatAsync(Calls.Chat(Question, rgba, Calls.Box(0, 0, 24, 24), maxTokens: MaxTokens));
        Assert.True(boxed.Finished.Timings.ImageDecodeMs > 0);
        var masked = await host.Client.ChatAsync(Calls.Chat(Question, rgba,
            new() { MaskPng = Google.Protobuf.ByteString.CopyFrom(TestImages.Mask(64, 64, 8, 8, 40, 40)) }, maxTokens: MaxTokens));
        Assert.Equal(0, masked.Finished.Timings.ImageDecodeMs);
        Assert.NotEqual(boxed.Text, masked.Text);

        var message = new UserChatMessage(ChatMessageContentPart.CreateTextPart(Question),
            ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(rgba), "image/png"));
        var streamed = await StreamAsync(OpenAiHttp.Client(host), [message], Greedy());
        Assert.Equal(masked.Text, streamed.Text);
        var timings = streamed.Timings!.ToObjectFromJson<Dictionary<string, System.Text.Json.JsonElement>>()!;
        Assert.True(timings["image_decode_ms"].GetDouble() > 0);
    }

    [Fact]
    public async Task AnRgbaImageStreamsTheSameAnswerAsGrpcChatWithTheMask()
    {
        await using var host = await ServerHost.StartAsync();
        var grpc = await host.Client.ChatAsync(Calls.Chat(Question, TestImages.Scene(301),
            new() { MaskPng = Google.Protobuf.ByteString.CopyFrom(TestImages.Mask(64, 64, 8, 8, 40, 40)) }, maxTokens: MaxTokens));
        var whole = await host.Client.ChatAsync(Calls.Chat(Question, TestImages.Scene(301), maxTokens: MaxTokens));

        var client = OpenAiHttp.Client(host);
        var rgba = TestImages.SceneWithAlpha(301, 8, 8, 40, 40);
        var message = new UserChatMessage(ChatMessageContentPart.CreateTextPart(Question), ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(rgba), "image/png"));
        var streamed = await StreamAsync(client, [message], Greedy());

        Assert.Equal(grpc.Text, streamed.Text);
        Assert.NotEqual(whole.Text, grpc.Text); // the region matters, so equality above is not a coincidence of whole images
        Assert.Equal(grpc.Finished.Reason == RegionChat.Protos.V1.FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, streamed.Reason);
        // The client asks for usage in streams: it arrives in the last chunk, with the same counts as gRPC's.
        Assert.NotNull(streamed.Usage);
        Assert.Equal((int)grpc.Finished.Usage.PromptTokens, streamed.Usage.InputTokenCount);
        Assert.Equal((int)grpc.Finished.Usage.CompletionTokens, streamed.Usage.OutputTokenCount);
        Assert.Equal(streamed.Usage.InputTokenCount + streamed.Usage.OutputTokenCount, streamed.Usage.TotalTokenCount);
        Assert.StartsWith("s-", streamed.Session);
        Assert.NotNull(streamed.Timings);
        var timings = streamed.Timings.ToObjectFromJson<Dictionary<string, System.Text.Json.JsonElement>>()!;
        foreach (var key in new[] { "image_decode_ms", "vision_encode_ms", "prefill_ms", "decode_ms", "visual_cache_hit" })
            Assert.True(timings.ContainsKey(key), $"timings lack {key}");
        Assert.True(timings["vision_encode_ms"].GetDouble() > 0);
        Assert.False(timings["visual_cache_hit"].GetBoolean());

        // The same RGBA image again: the visual tokens come from the cache.
        var again = await client.CompleteChatAsync([message], Greedy());
        Assert.Equal(grpc.Text, again.Value.Content[0].Text);
        Assert.True(again.Value.Patch.GetJson("$.timings"u8).ToObjectFromJson<Dictionary<string, System.Text.Json.JsonElement>>()!["visual_cache_hit"].GetBoolean());
    }

    [Fact]
    public async Task TheRegionExtensionGivesTheGrpcAnswersStreamingAndNot()
    {
        await using var host = await ServerHost.StartAsync();
        var scene = TestImages.Scene(302);
        var client = OpenAiHttp.Client(host);

        ChatMessage WithRegion(string regionJson)
        {
            var image = ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(scene), "image/png");
            image.Patch.Set("$.region"u8, BinaryData.FromString(regionJson));
            return new UserChatMessage(ChatMessageContentPart.CreateTextPart(Question), image);
        }

        // A box, streamed.
        var box = await host.Client.ChatAsync(Calls.Chat(Question, scene, Calls.Box(30, 4, 60, 34), maxTokens: MaxTokens));
        var streamed = await StreamAsync(client, [WithRegion("""{"box": [30, 4, 60, 34]}""")], Greedy());
        Assert.Equal(box.Text, streamed.Text);

        // A mask as a PNG data URL, not streamed.
        var maskPng = TestImages.Mask(64, 64, 10, 20, 50, 60);
        var mask = await host.Client.ChatAsync(Calls.Chat(Question, scene,
            new() { MaskPng = Google.Protobuf.ByteString.CopyFrom(maskPng) }, maxTokens: MaxTokens));
        var completion = (await client.CompleteChatAsync([WithRegion($$"""{"mask": "{{TestImages.DataUrl(maskPng)}}"}""")], Greedy())).Value;
        Assert.Equal(mask.Text, completion.Content[0].Text);
        Assert.Equal((int)mask.Finished.Usage.PromptTokens, completion.Usage.InputTokenCount);
        Assert.StartsWith("s-", completion.Patch.GetString("$.session_id"u8));
        Assert.NotEqual(box.Text, mask.Text);

        // A union of a box and a polygon in the JSON form equals the same union through gRPC.
        var union = new RegionChat.Protos.V1.Region { Union = new() { Regions =
        {
            Calls.Box(0, 0, 16, 16),
            new RegionChat.Protos.V1.Region { Polygon = new() { Points = { 40, 40, 60, 40, 50, 60 } } },
        } } };
        var grpcUnion = await host.Client.ChatAsync(Calls.Chat(Question, scene, union, maxTokens: MaxTokens));
        var jsonUnion = (await client.CompleteChatAsync([WithRegion("""[{"box": [0, 0, 16, 16]}, {"polygon": [40, 40, 60, 40, 50, 60]}]""")], Greedy())).Value;
        Assert.Equal(grpcUnion.Text, jsonUnion.Content[0].Text);

        // The explicit region wins over an alpha channel.
        var rgbaWithBox = ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(TestImages.SceneWithAlpha(302, 0, 0, 8, 8)), "image/png");
        rgbaWithBox.Patch.Set("$.region"u8, BinaryData.FromString("""{"box": [30, 4, 60, 34]}"""));
        var wins = (await client.CompleteChatAsync([new UserChatMessage(ChatMessageContentPart.CreateTextPart(Question), rgbaWithBox)], Greedy())).Value;
        Assert.Equal(box.Text, wins.Content[0].Text);
    }

    [Fact]
    public async Task ASessionGoesOnWithOnlyTheNewMessagesAndAnswersLikeAGrpcFollowUp()
    {
        await using var host = await ServerHost.StartAsync();
        var scene = TestImages.Scene(303);
        var first = await host.Client.ChatAsync(Calls.Chat(Question, scene, Calls.Box(0, 0, 32, 32), maxTokens: MaxTokens));
        var second = await host.Client.ChatAsync(Calls.Chat("and its colour?", maxTokens: MaxTokens, sessionId: first.Started.SessionId));
        Assert.True(second.Started.CachedTokens > 0);

        var client = OpenAiHttp.Client(host);
        var image = ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(scene), "image/png");
        image.Patch.Set("$.region"u8, BinaryData.FromString("""{"box": [0, 0, 32, 32]}"""));
        var user1 = new UserChatMessage(ChatMessageContentPart.CreateTextPart(Question), image);
        var a1 = (await client.CompleteChatAsync([user1], Greedy())).Value;
        Assert.Equal(first.Text, a1.Content[0].Text);
        string session = a1.Patch.GetString("$.session_id"u8)!;

        // The client sends the whole conversation as usual, plus session_id: only the last user message is new.
        var options = Greedy();
        options.Patch.Set("$.session_id"u8, session);
        var a2 = (await client.CompleteChatAsync([user1, new AssistantChatMessage(a1.Content[0].Text), new UserChatMessage("and its colour?")], options)).Value;
        Assert.Equal(second.Text, a2.Content[0].Text);
        Assert.Equal(session, a2.Patch.GetString("$.session_id"u8));
        Assert.Equal((int)second.Finished.Usage.CachedTokens, a2.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal((int)second.Finished.Usage.PromptTokens, a2.Usage.InputTokenCount);

        // Without session_id the whole list is a new session: the earlier turns are prefilled again, nothing cached.
        var replay = (await client.CompleteChatAsync([user1, new AssistantChatMessage(a1.Content[0].Text), new UserChatMessage("and its colour?")], Greedy())).Value;
        Assert.NotEqual(session, replay.Patch.GetString("$.session_id"u8));
        Assert.Equal(0, replay.Usage.InputTokenDetails.CachedTokenCount);
        Assert.True(replay.Usage.InputTokenCount > a1.Usage.InputTokenCount + a1.Usage.OutputTokenCount,
            $"the replayed prompt ({replay.Usage.InputTokenCount} tokens) does not hold the first turn");

        // A system message starts a session with that system prompt: the answer differs from the default prompt's.
        var withSystem = (await client.CompleteChatAsync([new SystemChatMessage("You are terse."), user1], Greedy())).Value;
        Assert.NotEqual(a1.Usage.InputTokenCount, withSystem.Usage.InputTokenCount);
    }

    [Fact]
    public async Task ModelsAreListedInOpenAisShape()
    {
        await using var host = await ServerHost.StartAsync();
        var models = new OpenAI.Models.OpenAIModelClient(new System.ClientModel.ApiKeyCredential("no-key"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(host.HttpAddress, "v1") });
        var list = (await models.GetModelsAsync()).Value;
        var tiny = Assert.Single(list);
        Assert.Equal("tiny", tiny.Id);
        Assert.Equal("regionchat", tiny.OwnedBy);
        Assert.True(tiny.CreatedAt > DateTimeOffset.UnixEpoch);

        using var http = OpenAiHttp.Http(host);
        var json = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/v1/models"))!;
        Assert.Equal("list", (string?)json["object"]);
        var data = json["data"]![0]!;
        Assert.Equal("model", (string?)data["object"]);
        Assert.True((bool)data["default"]!);
        Assert.Equal(host.Model.VisualTokenCount, (int)data["visual_tokens"]!);
        Assert.Equal(host.Model.Llm.Facts.ContextSize, (int)data["context_size"]!);
    }
}
