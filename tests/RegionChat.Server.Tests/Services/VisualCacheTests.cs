using Google.Protobuf;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>The visual-token cache: the same (image, region) skips decoding and the vision encoder.</summary>
public class VisualCacheTests
{
    [Fact]
    public async Task TheSameImageAndRegionHitsADifferentRegionMisses()
    {
        await using var host = await ServerHost.StartAsync();
        var image = TestImages.Scene(31);
        var box = Calls.Box(8, 8, 40, 40);

        var first = await host.Client.ChatAsync(Calls.Chat("what is here?", image, box));
        Assert.False(first.Finished.Timings.VisualCacheHit);
        Assert.True(first.Finished.Timings.VisionEncodeMs > 0);
        Assert.True(first.Finished.Timings.ImageDecodeMs > 0);

        var again = await host.Client.ChatAsync(Calls.Chat("what is here?", image, box));
        Assert.True(again.Finished.Timings.VisualCacheHit);
        Assert.Equal(0, again.Finished.Timings.VisionEncodeMs);
        Assert.Equal(0, again.Finished.Timings.ImageDecodeMs); // the bytes were already in the image store
        Assert.Equal(first.Text, again.Text);                  // the cached tokens are the same tokens
        Assert.Equal(16u, again.Started.VisualTokens);

        // The same image by id is the same content: a hit as well.
        var stored = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(image) }, deadline: Calls.Deadline());
        var byId = Calls.Chat("what is here?", region: box);
        byId.Message.Image = new PbV1.ImageInput { ImageId = stored.ImageId };
        Assert.True((await host.Client.ChatAsync(byId)).Finished.Timings.VisualCacheHit);

        var otherRegion = await host.Client.ChatAsync(Calls.Chat("what is here?", image, Calls.Box(40, 40, 64, 64)));
        Assert.False(otherRegion.Finished.Timings.VisualCacheHit);
        Assert.True(otherRegion.Finished.Timings.VisionEncodeMs > 0);

        var otherImage = await host.Client.ChatAsync(Calls.Chat("what is here?", TestImages.Scene(32), box));
        Assert.False(otherImage.Finished.Timings.VisualCacheHit);

        // Captions share the cache.
        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(image) }, Region = box, MaxTokens = 4 },
            deadline: Calls.Deadline());
        Assert.True(caption.Timings.VisualCacheHit);
        Assert.Equal(0, caption.Timings.VisionEncodeMs);
    }

    [Fact]
    public async Task ANewImagesCheckDecodeServesItsEncodeAsTheStoredBytesWould()
    {
        // Caches off: every turn encodes and decodes. An image new to the store is encoded from the pixels its check
        // decoded; by id, from its stored bytes. Both must answer alike, and two scenes differently (so the answers see the pixels).
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:VisualCacheBytes"] = "0",
            ["RegionChat:TowerPixelCacheBytes"] = "0",
        });
        var box = Calls.Box(4, 4, 60, 60);
        var answers = new List<string>();
        foreach (long seed in new long[] { 51, 52 })
        {
            var image = TestImages.Scene(seed);
            var inline = await host.Client.ChatAsync(Calls.Chat("what is here?", image, box));
            Assert.False(inline.Finished.Timings.VisualCacheHit);
            Assert.True(inline.Finished.Timings.ImageDecodeMs > 0);
            var stored = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(image) }, deadline: Calls.Deadline());
            var byId = Calls.Chat("what is here?", region: box);
            byId.Message.Image = new PbV1.ImageInput { ImageId = stored.ImageId };
            var again = await host.Client.ChatAsync(byId);
            Assert.False(again.Finished.Timings.VisualCacheHit);
            Assert.True(again.Finished.Timings.ImageDecodeMs > 0);   // decoded from the stored bytes this time
            Assert.Equal(inline.Text, again.Text);
            answers.Add(inline.Text);
        }
        Assert.NotEqual(answers[0], answers[1]);
    }

    [Fact]
    public async Task AnotherRegionOfAnImageSeenBeforeIsNotDecodedAgainAndAnswersAsADecodedOneWould()
    {
        // Visual-token cache off, so every turn encodes; the tower-pixel cache keeps each image's resized pixels.
        var box = Calls.Box(4, 4, 60, 60);
        var other = Calls.Box(30, 20, 60, 60);
        async Task<List<(string Text, double DecodeMs)>> Turns(string pixelCacheBytes)
        {
            await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
            {
                ["RegionChat:VisualCacheBytes"] = "0",
                ["RegionChat:TowerPixelCacheBytes"] = pixelCacheBytes,
            });
            var turns = new List<(string, double)>();
            foreach (long seed in new long[] { 51, 52 })
            {
                var image = TestImages.Scene(seed);
                var first = await host.Client.ChatAsync(Calls.Chat("what is here?", image, box));
                turns.Add((first.Text, first.Finished.Timings.ImageDecodeMs));
                var stored = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(image) }, deadline: Calls.Deadline());
                foreach (var region in new[] { other, box })
                {
                    var byId = Calls.Chat("what is here?", region: region);
                    byId.Message.Image = new PbV1.ImageInput { ImageId = stored.ImageId };
                    var turn = await host.Client.ChatAsync(byId);
                    Assert.False(turn.Finished.Timings.VisualCacheHit);
                    Assert.True(turn.Finished.Timings.VisionEncodeMs > 0);
                    turns.Add((turn.Text, turn.Finished.Timings.ImageDecodeMs));
                }
            }
            return turns;
        }

        var cached = await Turns("67108864");
        var decoded = await Turns("0");
        // Each image is decoded once, by its first turn; its later turns draw only their region.
        Assert.Equal([true, false, false, true, false, false], cached.Select(t => t.DecodeMs > 0));
        Assert.All(decoded, t => Assert.True(t.DecodeMs > 0));
        Assert.Equal(decoded.Select(t => t.Text), cached.Select(t => t.Text));
        // The answers see the region and the image: the two regions of an image, and the two images, answer differently.
        Assert.NotEqual(cached[1].Text, cached[2].Text);
        Assert.NotEqual(cached[2].Text, cached[5].Text);
    }

    [Fact]
    public async Task TurnsAboutOneImageAtOnceDecodeItOnce()
    {
        // Eight regions of one stored image asked at once (as a batch's items about one image arrive): one turn decodes
        // the image, the others wait for its pixels. Without the tower-pixel cache, each decodes.
        async Task<(int Decoded, List<string> Texts)> Burst(string pixelCacheBytes)
        {
            await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
            {
                ["RegionChat:VisualCacheBytes"] = "0",
                ["RegionChat:TowerPixelCacheBytes"] = pixelCacheBytes,
            });
            // A large noisy PNG: its decode takes long enough that the eight turns overlap in it.
            var stored = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(TestImages.Noise(1024, 71)) },
                deadline: Calls.Deadline());
            var turns = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            {
                var request = Calls.Chat("what is here?", region: Calls.Box(20 + 90 * i, 40, 400 + 60 * i, 900));
                request.Message.Image = new PbV1.ImageInput { ImageId = stored.ImageId };
                return host.Client.ChatAsync(request);
            }));
            return (turns.Count(t => t.Finished.Timings.ImageDecodeMs > 0), turns.Select(t => t.Text).ToList());
        }

        var shared = await Burst("67108864");
        var apart = await Burst("0");
        Assert.Equal(1, shared.Decoded);
        Assert.Equal(8, apart.Decoded);
        Assert.Equal(apart.Texts, shared.Texts);
    }
}
