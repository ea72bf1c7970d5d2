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
}
