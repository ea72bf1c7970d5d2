using Google.Protobuf;
using Grpc.Core;
using RegionChat.Client;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>gRPC Embed: regions and texts in shapes-tiny's joint CLIP space, the same vectors Classify scores.</summary>
public class EmbedTests(ShapesTinyHost fixture) : IClassFixture<ShapesTinyHost>
{
    static double Dot(IReadOnlyList<float> a, IReadOnlyList<float> b) => a.Zip(b).Sum(p => (double)p.First * p.Second);

    [Fact]
    public async Task RegionAndTextEmbeddingsAreUnitVectorsWhoseDotProductsAreClassifysLogits()
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 600);
        var image = new PbV1.ImageInput { Data = TestImages.SavedPng(p => scene.SavePng(p)) };
        var regions = scene.Objects.Select(o => new PbV1.Region { MaskPng = TestImages.SavedPng(p => ShapesPng.SaveMaskPng(o.VisibleMask, p)) }).ToArray();
        string[] texts = scene.Objects.Select(o => o.Caption).Distinct().Append("a small pink elephant").ToArray();

        var embedded = await fixture.Host.Client.EmbedAsync(new PbV1.EmbedRequest { Image = image, Regions = { regions }, Texts = { texts.SkipLast(1) } },
            deadline: Calls.Deadline());
        Assert.Equal("shapes-tiny", embedded.Model);
        Assert.Equal(regions.Length, embedded.Regions.Count);
        Assert.Equal(texts.Length - 1, embedded.Texts.Count);
        Assert.All(embedded.Regions.Concat(embedded.Texts), e =>
        {
            Assert.Equal(128, e.Values.Count);
            Assert.Equal(1.0, Math.Sqrt(Dot(e.Values, e.Values)), 4);
        });

        // Classify over the same texts: its logits are exp(logit_scale) × these dot products, one scale for all.
        var classified = await fixture.Host.Client.ClassifyAsync(new PbV1.ClassifyRequest { Image = image, Regions = { regions }, Labels = { texts.SkipLast(1) } },
            deadline: Calls.Deadline());
        double? scale = null;
        for (int r = 0; r < regions.Length; r++)
            foreach (var label in classified.Regions[r].Labels)
            {
                double dot = Dot(embedded.Regions[r].Values, embedded.Texts[Array.IndexOf(texts, label.Label)].Values);
                scale ??= label.Logit / dot;
                Assert.Equal(label.Logit, scale.Value * dot, 3);
            }
        // Each object's region is nearest its own caption, as its classification ranks it.
        int nearest = Enumerable.Range(0, regions.Length).Count(r =>
            texts[Enumerable.Range(0, texts.Length - 1).MaxBy(t => Dot(embedded.Regions[r].Values, embedded.Texts[t].Values))] == scene.Objects[r].Caption);
        Assert.True(nearest >= regions.Length - 1, $"{nearest} of {regions.Length} regions nearest their own caption");
    }

    [Fact]
    public async Task TextsAloneOrTheWholeImageAloneAreEmbeddedAndTheClientReturnsArrays()
    {
        using var client = new RegionChatClient(fixture.Host.Address);
        var (regions, texts) = await client.EmbedAsync(null, texts: ["a large red circle", "a small blue cross"]);
        Assert.Empty(regions);
        Assert.Equal(2, texts.Length);
        Assert.True(Dot(texts[0], texts[1]) < 0.999, "two different captions embed alike");

        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 601);
        var (whole, none) = await client.EmbedAsync(TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray());
        Assert.Single(whole);
        Assert.Empty(none);
        // The same request again: the region's features come from the cache, identical.
        var (again, _) = await client.EmbedAsync(TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray());
        Assert.Equal(whole[0], again[0]);
    }

    [Fact]
    public async Task RepeatedTextsEachGetTheirVector()
    {
        // Labels may not repeat (a classification over them would be ambiguous); texts to embed may, as in OpenAI's API.
        var answer = await fixture.Host.Client.EmbedAsync(new PbV1.EmbedRequest { Texts = { "a red circle", "a blue cross", "a red circle" } },
            deadline: Calls.Deadline());
        Assert.Equal(3, answer.Texts.Count);
        Assert.Equal(answer.Texts[0].Values, answer.Texts[2].Values);
        Assert.NotEqual(answer.Texts[0].Values, answer.Texts[1].Values);
    }

    [Theory]
    [InlineData("nothing", "image")]
    [InlineData("regions without an image", "regions")]
    [InlineData("an empty text", "texts[0]")]
    [InlineData("a text over 2000 characters", "texts[1]")]
    [InlineData("a word the tokenizer lacks", "texts[0]")]
    [InlineData("a bad region", "regions[0].box")]
    public async Task BadRequestsNameTheField(string what, string field)
    {
        var image = new PbV1.ImageInput { Data = TestImages.SavedPng(p => ShapesGenerator.Generate(ShapesSeeds.TestStart + 602).SavePng(p)) };
        var request = what switch
        {
            "nothing" => new PbV1.EmbedRequest(),
            "regions without an image" => new PbV1.EmbedRequest { Regions = { Calls.Box(0, 0, 8, 8) }, Texts = { "a red circle" } },
            "an empty text" => new PbV1.EmbedRequest { Texts = { " " } },
            "a text over 2000 characters" => new PbV1.EmbedRequest { Texts = { "a red circle", string.Join(' ', Enumerable.Repeat("red", 501)) } },
            "a word the tokenizer lacks" => new PbV1.EmbedRequest { Texts = { "a pink elephant" } },
            _ => new PbV1.EmbedRequest { Image = image, Regions = { Calls.Box(500, 500, 600, 600) } },
        };
        var e = await Calls.FailsAsync(() => fixture.Host.Client.EmbedAsync(request, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(Calls.Violations(e), v => v.Field == field);
    }
}
