using Google.Protobuf;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Classify draws each region over the image's tower pixels: decoded once, and kept for later requests.</summary>
public class ClassifyTowerPixelTests
{
    [Fact]
    public async Task ALaterRequestAboutTheImageDoesNotDecodeItAndGetsWhatADecodeWouldGive()
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 520);
        using var temp = new TempDir();
        scene.SavePng(temp.File("scene.png"));
        var image = ByteString.CopyFrom(File.ReadAllBytes(temp.File("scene.png")));

        async Task<(double First, double Second, List<double> Probabilities)> Run(string pixelCacheBytes)
        {
            await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
            {
                ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
                ["RegionChat:DefaultModel"] = "shapes-tiny",
                ["RegionChat:TowerPixelCacheBytes"] = pixelCacheBytes,
            });
            var probabilities = new List<double>();
            var decodeMs = new List<double>();
            // Two requests about the same image with different regions: the region features are not cached, the pixels may be.
            foreach (var boxes in new[] { new[] { (4f, 4f, 40f, 40f), (20f, 20f, 64f, 64f) }, new[] { (0f, 30f, 50f, 64f) } })
            {
                var request = new PbV1.ClassifyRequest { Image = new PbV1.ImageInput { Data = image } };
                request.Labels.AddRange(["a large red circle", "a small blue cross", "a large yellow square"]);
                request.Regions.AddRange(boxes.Select(b => Calls.Box(b.Item1, b.Item2, b.Item3, b.Item4)));
                var response = await host.Client.ClassifyAsync(request, deadline: Calls.Deadline());
                decodeMs.Add(response.Timings.ImageDecodeMs);
                probabilities.AddRange(response.Regions.SelectMany(r => r.Labels.OrderBy(l => l.Label, StringComparer.Ordinal).Select(l => l.Probability)));
            }
            return (decodeMs[0], decodeMs[1], probabilities);
        }

        var kept = await Run("67108864");
        var decoded = await Run("0");
        Assert.True(kept.First > 0);
        Assert.Equal(0, kept.Second);
        Assert.True(decoded.Second > 0);
        Assert.Equal(decoded.Probabilities, kept.Probabilities);
        Assert.NotEqual(kept.Probabilities[0], kept.Probabilities[3]);   // the regions matter
    }
}
