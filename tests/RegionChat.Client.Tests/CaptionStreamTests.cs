using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>CaptionStream through the client against the real server: results by id, per-item errors with their
/// field violations, the same captions as unary Caption calls.</summary>
[Collection(ServerCollection.Name)]
public class CaptionStreamTests(ServerFixture server)
{
    static readonly GenerationOptions Greedy = new() { Temperature = 0, MaxTokens = 8 };

    [Fact]
    public async Task EveryItemComesBackByIdWithTheUnaryCaptionOrItsOwnError()
    {
        var scenes = Enumerable.Range(0, 3).Select(i => Scenes.Png(1_000_000_300 + i)).ToArray();
        var stored = await server.Client.StoreImageAsync(scenes[0], ServerFixture.Timeout());
        var items = new Dictionary<string, (ChatImage Image, ImageRegion Region)>
        {
            ["by-id"] = (ChatImage.FromId(stored.ImageId), ImageRegion.Box(8, 8, 40, 40)),
            ["inline"] = (scenes[1], ImageRegion.Polygon([(10, 10), (50, 12), (30, 50)])),
            ["whole"] = (scenes[2], ImageRegion.Whole),
            ["outside"] = (scenes[1], ImageRegion.Box(100, 100, 120, 120)),
        };

        var results = new Dictionary<string, CaptionStreamResult>();
        await using (var stream = server.Client.OpenCaptionStream(ServerFixture.Timeout()))
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var r in stream.ReadAllAsync()) results.Add(r.Id, r);
            });
            foreach (var (id, item) in items) await stream.SendAsync(id, item.Image, item.Region, generation: Greedy);
            await stream.CompleteAsync();
            await reader;
        }

        Assert.Equal(items.Keys.Order(), results.Keys.Order());
        foreach (var id in new[] { "by-id", "inline", "whole" })
        {
            var r = results[id];
            Assert.Null(r.Error);
            var unary = await server.Client.CaptionAsync(items[id].Image, items[id].Region, generation: Greedy, cancellationToken: ServerFixture.Timeout());
            Assert.Equal(unary.Text, r.Caption!.Text);
            Assert.Equal(unary.Usage.CompletionTokens, r.Caption.Usage.CompletionTokens);
        }
        var outside = results["outside"];
        Assert.Null(outside.Caption);
        Assert.Equal(StatusCode.InvalidArgument, outside.Error!.StatusCode);
        Assert.Equal("request.region.box", Assert.Single(outside.Error.FieldViolations).Field);
        Assert.StartsWith("InvalidArgument: request.region.box: ", outside.Error.ToString());
    }

    [Fact]
    public async Task AStreamTheServerRefusesFailsWithItsStatus()
    {
        using var noKey = new RegionChatClient(server.Host.Address);
        await using var stream = noKey.OpenCaptionStream(ServerFixture.Timeout());
        var e = await Assert.ThrowsAsync<RegionChatException>(async () =>
        {
            await stream.SendAsync("a", Scenes.Png(1_000_000_310));
            await foreach (var _ in stream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        Assert.Equal("CaptionStream", e.Method);

        // Writing on a stream that has ended reports that status too, not a bare CANCELLED.
        var write = await Assert.ThrowsAsync<RegionChatException>(() => stream.SendAsync("b", Scenes.Png(1_000_000_311)));
        Assert.Equal(StatusCode.Unauthenticated, write.StatusCode);
    }
}
