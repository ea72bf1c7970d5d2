using System.Text;
using Google.Protobuf;
using Grpc.Core;
using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

public class ChatSmokeTests
{
    static ByteString ScenePng(long seed)
    {
        using var image = ShapesGenerator.Generate(seed).ToImage();
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ByteString.CopyFrom(ms.ToArray());
    }

    [Fact]
    public async Task ChatStreamsStartedDeltasAndFinishedThenAFollowUpReusesTheCache()
    {
        await using var host = await ServerHost.StartAsync();
        var request = new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage
            {
                Text = "describe this region",
                Image = new PbV1.ImageInput { Data = ScenePng(1_000_000_000) },
                Region = new PbV1.Region { Box = new PbV1.Box { X0 = 0, Y0 = 0, X1 = 32, Y1 = 32 } },
            },
            MaxTokens = 8,
        };
        var events = new List<PbV1.ChatEvent>();
        using (var call = host.Client.Chat(request))
            await foreach (var e in call.ResponseStream.ReadAllAsync()) events.Add(e);
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Started, events[0].EventCase);
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Finished, events[^1].EventCase);
        var started = events[0].Started;
        var finished = events[^1].Finished;
        Assert.Equal(16u, started.VisualTokens);
        Assert.Equal(0u, started.CachedTokens);
        Assert.True(started.PromptTokens > 16);
        Assert.Equal(finished.Usage.CompletionTokens > 0, events.Count > 2);
        Assert.False(finished.Timings.VisualCacheHit);

        var followUp = new PbV1.ChatRequest { SessionId = started.SessionId, Message = new PbV1.UserMessage { Text = "what color is it?" }, MaxTokens = 4 };
        var second = new List<PbV1.ChatEvent>();
        using (var call = host.Client.Chat(followUp))
            await foreach (var e in call.ResponseStream.ReadAllAsync()) second.Add(e);
        var s2 = second[0].Started;
        Assert.Equal(started.SessionId, s2.SessionId);
        Assert.True(s2.CachedTokens >= started.PromptTokens, $"cached {s2.CachedTokens} < first prompt {started.PromptTokens}");
        Assert.True(s2.PromptTokens - s2.CachedTokens < 20, "the follow-up prefilled more than its own text");
    }

    [Fact]
    public async Task UnknownSessionIsNotFound()
    {
        await using var host = await ServerHost.StartAsync();
        using var call = host.Client.Chat(new PbV1.ChatRequest { SessionId = "s-nope", Message = new PbV1.UserMessage { Text = "hi" } });
        var e = await Assert.ThrowsAsync<RpcException>(async () => { await foreach (var _ in call.ResponseStream.ReadAllAsync()) { } });
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("s-nope", e.Status.Detail);
    }

    [Fact]
    public async Task AQuestionIsStrippedBeforeItIsRendered()
    {
        await using var host = await ServerHost.StartAsync();
        byte[] scene = ScenePng(1_000_000_001).ToByteArray();
        var clean = await host.Client.ChatAsync(Calls.Chat("what is this?", scene, Calls.Box(0, 0, 32, 32), maxTokens: 12));
        var padded = await host.Client.ChatAsync(Calls.Chat(" \n what is this?\t\n ", scene, Calls.Box(0, 0, 32, 32), maxTokens: 12));
        Assert.Equal(clean.Started.PromptTokens, padded.Started.PromptTokens);
        Assert.Equal(clean.Text, padded.Text);
    }
}
