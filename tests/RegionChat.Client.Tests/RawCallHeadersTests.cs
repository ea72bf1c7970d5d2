using Grpc.Core;
using RegionChat.Server.TestHost;

namespace RegionChat.Client.Tests;

/// <summary>The API key and routing key the client adds to calls made through <see cref="RegionChatClient.Grpc"/>.</summary>
public class RawCallHeadersTests
{
    [Fact]
    public async Task HeadersACallerReusesOnRawCallsAreLeftAsTheyWere()
    {
        await using var host = await ServerHost.StartAsync(("ApiKeys:0", "k"));
        using var client = new RegionChatClient(host.Address, "k") { RoutingKey = "r1" };
        var headers = new Metadata { { "x-trace", "t" } };
        for (int i = 0; i < 3; i++) await client.Grpc.ListModelsAsync(new(), headers, cancellationToken: ServerFixture.Timeout());
        Assert.Equal(["x-trace"], headers.Select(h => h.Key));
    }

    [Fact]
    public async Task TheRoutingKeyGoesOnRawCallsButNotOnChatTurns()
    {
        await using var host = await ServerHost.StartAsync();
        using var client = new RegionChatClient(host.Address) { RoutingKey = "r1" };
        using (var list = client.Grpc.ListModelsAsync(new(), cancellationToken: ServerFixture.Timeout()))
            Assert.Equal("r1", (await list.ResponseHeadersAsync).GetValue(RegionChatClient.SessionHeader)); // the server echoes it

        // Two raw first turns: each a session of its own (the routing key as their header made both take its id).
        var first = await RawTurnAsync(client, new() { Message = new() { Text = "hi" }, MaxTokens = 2 });
        var second = await RawTurnAsync(client, new() { Message = new() { Text = "hi" }, MaxTokens = 2 });
        Assert.NotEqual(first.SessionId, second.SessionId);
        Assert.DoesNotContain("r1", new[] { first.SessionId, second.SessionId });
        // A raw turn that continues a session by its session_id alone (the routing key contradicted it).
        var next = await RawTurnAsync(client, new() { SessionId = first.SessionId, Message = new() { Text = "and?" }, MaxTokens = 2 });
        Assert.Equal(first.SessionId, next.SessionId);
    }

    static async Task<Protos.V1.ChatStarted> RawTurnAsync(RegionChatClient client, Protos.V1.ChatRequest request)
    {
        using var call = client.Grpc.Chat(request, cancellationToken: ServerFixture.Timeout());
        Protos.V1.ChatStarted? started = null;
        await foreach (var e in call.ResponseStream.ReadAllAsync()) started ??= e.Started;
        return started!;
    }
}
