using Grpc.Core;
using RegionChat.Server.TestHost;

namespace RegionChat.Client.Tests;

/// <summary>EmbedStream through the client against the real server on shapes-tiny: results by id with unary Embed's
/// vectors, per-item errors with field paths under "request.".</summary>
public class EmbedStreamTests(ShapesTinyServer server) : IClassFixture<ShapesTinyServer>
{
    [Fact]
    public async Task EveryItemComesBackByIdWithTheUnaryVectorsOrItsOwnError()
    {
        var scenes = Enumerable.Range(0, 2).Select(i => Scenes.Png(1_000_000_420 + i)).ToArray();
        var stored = await server.Client.StoreImageAsync(scenes[0], ServerFixture.Timeout());
        var items = new Dictionary<string, (ChatImage? Image, ImageRegion[] Regions, string[] Texts)>
        {
            ["by-id"] = (ChatImage.FromId(stored.ImageId), [ImageRegion.Box(8, 8, 40, 40), ImageRegion.Whole], []),
            ["inline"] = (scenes[1], [ImageRegion.Polygon([(10, 10), (50, 12), (30, 50)])], ["a large red circle"]),
            ["texts"] = (null, [], ["a small blue cross", "a large green square"]),
            ["bad-box"] = (scenes[1], [ImageRegion.Box(5000, 5000, 5100, 5100)], []),   // outside the image
        };

        var results = new Dictionary<string, EmbedStreamResult>();
        await using (var stream = server.Client.OpenEmbedStream(ServerFixture.Timeout()))
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var r in stream.ReadAllAsync()) results.Add(r.Id, r);
            });
            foreach (var (id, item) in items) await stream.SendAsync(id, item.Image, item.Regions, item.Texts);
            await stream.CompleteAsync();
            await reader.WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Equal(items.Keys.Order(), results.Keys.Order());
        foreach (var id in new[] { "by-id", "inline", "texts" })
        {
            var r = results[id];
            Assert.Null(r.Error);
            var (regions, texts) = await server.Client.EmbedAsync(items[id].Image, items[id].Regions, items[id].Texts,
                cancellationToken: ServerFixture.Timeout());
            Assert.Equal(regions.Length, r.Embedding!.Regions.Count);
            Assert.Equal(texts.Length, r.Embedding.Texts.Count);
            foreach (var (expected, actual) in regions.Zip(r.Embedding.Regions).Concat(texts.Zip(r.Embedding.Texts)))
                Assert.All(expected.Zip(actual.Values), p => Assert.Equal(p.First, p.Second, 1e-5f));
        }
        Assert.Equal(2, results["by-id"].Embedding!.Regions.Count);
        var bad = results["bad-box"];
        Assert.Null(bad.Embedding);
        Assert.Equal(StatusCode.InvalidArgument, bad.Error!.StatusCode);
        Assert.StartsWith("request.regions[0]", Assert.Single(bad.Error.FieldViolations).Field);
    }

    [Fact]
    public async Task AnEmptyTextFailsItsItemNamingItUnderRequest()
    {
        await using var stream = server.Client.OpenEmbedStream(ServerFixture.Timeout());
        await stream.SendAsync("empty", null, texts: ["a large red circle", " "]);
        await stream.CompleteAsync();
        var result = Assert.Single(await stream.ReadAllAsync().ToListAsync());
        Assert.Equal("empty", result.Id);
        Assert.Equal("request.texts[1]", Assert.Single(result.Error!.FieldViolations).Field);
    }
}
