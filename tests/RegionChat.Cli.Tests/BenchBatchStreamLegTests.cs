using Google.Protobuf;
using RegionChat.Cli.Commands;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Tests;

/// <summary>bench batch's CaptionStream leg against the real server.</summary>
public sealed class BenchBatchStreamLegTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    [Fact]
    public async Task AFailedItemEndsTheLegWithItsErrorInsteadOfWaitingForever()
    {
        using var client = ServerArguments.Connect(fx.Url, null);
        var models = await client.ListModelsAsync(CancellationToken.None);
        int resolution = (int)models.Models.Single(m => m.Id == models.DefaultModel).Vision.ImageSize;
        PbV1.CaptionRequest Good(int i)
        {
            var p = ServerBenchmark.MakePrompt(7_000 + i, resolution, "");
            return new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(p.Png) }, Region = p.ProtoRegion, MaxTokens = 2 };
        }
        var broken = Good(1);
        broken.Image.Data = ByteString.CopyFromUtf8("not an image");
        var requests = new List<(int, PbV1.CaptionRequest)> { (0, Good(0)), (1, broken), (2, Good(2)), (3, Good(3)), (4, Good(4)) };

        // Window 1: before the fix the sender waited for a slot that the stopped reader would never free.
        var leg = BatchBenchmark.StreamLegAsync(client, requests, 1, CancellationToken.None);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => leg.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("item 1 failed", e.Message);

        var whole = await BatchBenchmark.StreamLegAsync(client, [(0, Good(0)), (2, Good(2))], 2, CancellationToken.None);
        Assert.Equal(2, whole.ItemMs.Count);
    }
}
