using Grpc.Core;
using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.Client.Tests;

/// <summary>A real server serving the committed shapes-tiny (it has a zero-shot classifier; the tiny random model has none).</summary>
public sealed class ShapesTinyServer : IAsyncLifetime
{
    public ServerHost Host { get; private set; } = null!;
    public RegionChatClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        Client = new RegionChatClient(Host.Address);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }
}

/// <summary>ClassifyStream through the client against the real server: results by id equal to unary Classify, per-item
/// errors with their field violations.</summary>
public class ClassifyStreamTests(ShapesTinyServer server) : IClassFixture<ShapesTinyServer>
{
    static readonly string[] Labels = ["a large red circle", "a small blue cross", "a large green square", "a small yellow triangle"];

    [Fact]
    public async Task EveryItemComesBackByIdWithTheUnaryClassificationOrItsOwnError()
    {
        var scenes = Enumerable.Range(0, 3).Select(i => Scenes.Png(1_000_000_400 + i)).ToArray();
        var stored = await server.Client.StoreImageAsync(scenes[0], ServerFixture.Timeout());
        var items = new Dictionary<string, (ChatImage Image, ImageRegion[] Regions, string[] Labels)>
        {
            ["by-id"] = (ChatImage.FromId(stored.ImageId), [ImageRegion.Box(8, 8, 40, 40), ImageRegion.Whole], Labels),
            ["inline"] = (scenes[1], [ImageRegion.Polygon([(10, 10), (50, 12), (30, 50)])], Labels),
            ["whole"] = (scenes[2], [], Labels),
            ["repeated-label"] = (scenes[1], [], [Labels[0], Labels[1], Labels[0]]),
        };

        var results = new Dictionary<string, ClassifyStreamResult>();
        await using (var stream = server.Client.OpenClassifyStream(ServerFixture.Timeout()))
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var r in stream.ReadAllAsync()) results.Add(r.Id, r);
            });
            foreach (var (id, item) in items) await stream.SendAsync(id, item.Image, item.Regions, item.Labels, top: 2);
            await stream.CompleteAsync();
            await reader.WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Equal(items.Keys.Order(), results.Keys.Order());
        foreach (var id in new[] { "by-id", "inline", "whole" })
        {
            var r = results[id];
            Assert.Null(r.Error);
            var unary = await server.Client.ClassifyAsync(items[id].Image, items[id].Regions, items[id].Labels, top: 2, cancellationToken: ServerFixture.Timeout());
            Assert.Equal(unary.Regions.Count, r.Classification!.Regions.Count);
            Assert.Equal(unary.Regions.SelectMany(x => x.Labels.Select(l => l.Label)), r.Classification.Regions.SelectMany(x => x.Labels.Select(l => l.Label)));
            Assert.All(r.Classification.Regions, x => Assert.Equal(2, x.Labels.Count));
        }
        var repeated = results["repeated-label"];
        Assert.Null(repeated.Classification);
        Assert.Equal(StatusCode.InvalidArgument, repeated.Error!.StatusCode);
        Assert.Equal("request.labels[2]", Assert.Single(repeated.Error.FieldViolations).Field);
        Assert.StartsWith("InvalidArgument: ", repeated.Error.ToString());
    }

    [Fact]
    public async Task AStreamTheServerRefusesFailsWithItsStatus()
    {
        // A server that wants an API key, asked without one: the whole stream fails, the read and later writes say why.
        await using var host = await ServerHost.StartAsync(("ApiKeys:0", "some-key"));
        using var noKey = new RegionChatClient(host.Address);
        await using var stream = noKey.OpenClassifyStream(ServerFixture.Timeout());
        var e = await Assert.ThrowsAsync<RegionChatException>(async () =>
        {
            await stream.SendAsync("a", Scenes.Png(1_000_000_410), [], Labels);
            await foreach (var _ in stream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        Assert.Equal("ClassifyStream", e.Method);
        var write = await Assert.ThrowsAsync<RegionChatException>(() => stream.SendAsync("b", Scenes.Png(1_000_000_411), [], Labels));
        Assert.Equal(StatusCode.Unauthenticated, write.StatusCode);
    }
}
