using System.Net;
using Grpc.Net.Client.Web;

namespace RegionChat.Client.Tests;

/// <summary>Large images over gRPC-Web, where the channel has no client streaming.</summary>
[Collection(ServerCollection.Name)]
public class ChannelOptionsTests(ServerFixture server)
{
    [Fact]
    public async Task StoreImageSendsALargeImageAsOnePutImageOverGrpcWeb()
    {
        var options = RegionChatClient.DefaultChannelOptions();
        options.HttpHandler = new GrpcWebHandler(GrpcWebMode.GrpcWeb, new HttpClientHandler());
        options.HttpVersion = HttpVersion.Version11;
        using var web = new RegionChatClient(server.Host.HttpAddress, ServerFixture.ApiKey, options);
        byte[] big = Scenes.NoisePng(700, seed: 7);
        Assert.True(big.Length > RegionChatClient.PutImageBytes);

        var stored = await web.StoreImageAsync(big, ServerFixture.Timeout());
        Assert.Equal(RegionChatClient.ContentId(big), stored.ImageId);
        Assert.Equal((700u, 700u), (stored.Width, stored.Height));
        // The next large image goes straight to PutImage (the channel is known to have no client streaming).
        byte[] other = Scenes.NoisePng(700, seed: 8);
        Assert.Equal(RegionChatClient.ContentId(other), (await web.StoreImageAsync(other, ServerFixture.Timeout())).ImageId);
    }
}

/// <summary>The client's default channel receives answers over grpc-dotnet's default limit (shapes-tiny: it has a classifier).</summary>
public class LargeAnswerTests(ShapesTinyServer server) : IClassFixture<ShapesTinyServer>
{
    [Fact]
    public async Task AnAnswerOverFourMebibytesIsReceived()
    {
        // 16 regions × 1000 labels of about 265 characters (30 words: shapes-tiny's text context), every label reported:
        // a legal answer of about 4.4 MB, which grpc-dotnet's default receive limit (4 MiB) refused on the client.
        string[] words = ["describe", "triangle", "diamond", "objects", "circle", "orange", "purple", "region", "shapes", "square"];
        var labels = Enumerable.Range(0, 1000)
            .Select(i => string.Join(' ', $"{i:D4}".Select(d => words[d - '0']).Concat(Enumerable.Repeat("triangle", 26)))).ToArray();
        var regions = Enumerable.Range(0, 16).Select(i => ImageRegion.Box(i, i, 40 + i, 40 + i)).ToArray();
        var answer = await server.Client.ClassifyAsync(Scenes.Png(1_000_000_303), regions, labels, top: 0,
            cancellationToken: ServerFixture.Timeout(300));
        Assert.Equal(16, answer.Regions.Count);
        Assert.All(answer.Regions, r => Assert.Equal(1000, r.Labels.Count));
        Assert.True(answer.CalculateSize() > 4 << 20, $"the answer is only {answer.CalculateSize():N0} bytes");
    }
}
