using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>The real server on the committed shapes-tiny.</summary>
public sealed class ShapesTinyHost : IAsyncLifetime
{
    public ServerHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServerHost.StartAsync(new Dictionary<string, string?>
    {
        ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
        ["RegionChat:DefaultModel"] = "shapes-tiny",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>gRPC Classify (issue 18): zero-shot region classification through a real Kestrel server.</summary>
public class ClassifyTests(ShapesTinyHost fixture) : IClassFixture<ShapesTinyHost>
{
    static readonly string[] Captions =
        (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
         select ShapesText.RegionCaption(size, color, shape)).ToArray();

    static PbV1.ClassifyRequest Request(ShapesScene scene, params string[] labels)
    {
        var request = new PbV1.ClassifyRequest { Image = new PbV1.ImageInput { Data = TestImages.SavedPng(p => scene.SavePng(p)) } };
        request.Labels.AddRange(labels);
        return request;
    }

    [Fact]
    public async Task Masked_objects_are_classified_by_their_captions_and_ranked()
    {
        var client = fixture.Host.Client;
        int correct = 0, total = 0;
        for (long seed = ShapesSeeds.TestStart + 500; seed < ShapesSeeds.TestStart + 510; seed++)
        {
            var scene = ShapesGenerator.Generate(seed);
            var request = Request(scene, Captions);
            request.Top = 5;
            request.Regions.AddRange(scene.Objects.Select(o => new PbV1.Region { MaskPng = TestImages.SavedPng(p => ShapesPng.SaveMaskPng(o.VisibleMask, p)) }));
            var response = await client.ClassifyAsync(request, deadline: Calls.Deadline());
            Assert.Equal("shapes-tiny", response.Model);
            Assert.Equal(scene.Objects.Count, response.Regions.Count);
            for (int i = 0; i < scene.Objects.Count; i++)
            {
                var labels = response.Regions[i].Labels;
                Assert.Equal(5, labels.Count);
                Assert.True(labels.Zip(labels.Skip(1)).All(p => p.First.Logit >= p.Second.Logit), "labels are not ranked by logit");
                if (labels[0].Label == scene.Objects[i].Caption) correct++;
                total++;
            }
        }
        Assert.True(correct >= 0.9 * total, $"top-1 {correct}/{total}");
    }

    [Fact]
    public async Task Without_regions_the_whole_image_is_classified_and_probabilities_sum_to_one()
    {
        var response = await fixture.Host.Client.ClassifyAsync(Request(ShapesGenerator.Generate(ShapesSeeds.TestStart + 7),
            "a large red circle", "a small blue cross"), deadline: Calls.Deadline());
        var only = Assert.Single(response.Regions);
        Assert.Equal(1.0, only.Labels.Sum(l => l.Probability), 6);
    }

    [Theory]
    [InlineData("no labels", StatusCode.InvalidArgument, "labels")]
    [InlineData("too many labels", StatusCode.InvalidArgument, "labels")]
    [InlineData("empty label", StatusCode.InvalidArgument, "labels[1]")]
    [InlineData("unknown word", StatusCode.InvalidArgument, "labels[0]")]
    [InlineData("bad region", StatusCode.InvalidArgument, "regions[1].box")]
    [InlineData("no image", StatusCode.InvalidArgument, "image")]
    [InlineData("unknown model", StatusCode.NotFound, null)]
    public async Task Bad_requests_get_a_precise_status_and_the_server_keeps_serving(string name, StatusCode code, string? field)
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 3);
        var request = Request(scene, "a large red circle", "a small blue cross");
        switch (name)
        {
            case "no labels": request.Labels.Clear(); break;
            case "too many labels": request.Labels.AddRange(Enumerable.Range(0, 1000).Select(i => $"label {i}")); break;
            case "empty label": request.Labels[1] = ""; break;
            case "unknown word": request.Labels[0] = "a pink elephant"; break;
            case "bad region":
                request.Regions.Add(new PbV1.Region { WholeImage = true });
                request.Regions.Add(new PbV1.Region { Box = new PbV1.Box { X0 = 30, Y0 = 10, X1 = 20, Y1 = 40 } });
                break;
            case "no image": request.Image = null; break;
            case "unknown model": request.Model = "no-such-model"; break;
        }
        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Host.Client.ClassifyAsync(request, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(code, e.StatusCode);
        string? got = Calls.Violations(e).FirstOrDefault()?.Field;
        if (field != null && field.EndsWith(".box", StringComparison.Ordinal)) Assert.StartsWith(field, got);   // ".box" or ".box.x1"
        else if (field != null) Assert.Equal(field, got);

        var ok = await fixture.Host.Client.ClassifyAsync(Request(scene, "a large red circle"), deadline: Calls.Deadline());
        Assert.Single(ok.Regions);
    }
}

/// <summary>gRPC ClassifyStream (issue 18): many Classify items over one call, results by id, failures per item.</summary>
public class ClassifyStreamTests(ShapesTinyHost fixture) : IClassFixture<ShapesTinyHost>
{
    static readonly string[] Labels = ["a large red circle", "a small blue cross", "a large green square", "a small yellow triangle"];

    static PbV1.ClassifyRequest Item(long seed, bool masks)
    {
        var scene = ShapesGenerator.Generate(seed);
        using var temp = new TempDir();
        scene.SavePng(temp.File("scene.png"));
        var request = new PbV1.ClassifyRequest { Image = new() { Data = ByteString.CopyFrom(File.ReadAllBytes(temp.File("scene.png"))) }, Top = 3 };
        request.Labels.AddRange(Labels);
        if (masks)
            foreach (var o in scene.Objects)
            {
                ShapesPng.SaveMaskPng(o.VisibleMask, temp.File("mask.png"));
                request.Regions.Add(new PbV1.Region { MaskPng = ByteString.CopyFrom(File.ReadAllBytes(temp.File("mask.png"))) });
            }
        return request;
    }

    [Fact]
    public async Task Results_come_keyed_by_id_equal_to_unary_Classify_while_bad_items_fail_alone()
    {
        var client = fixture.Host.Client;
        var good = Enumerable.Range(0, 6).Select(i => new PbV1.ClassifyStreamRequest { Id = $"item-{i}", Request = Item(ShapesSeeds.TestStart + 40 + i, masks: i % 2 == 0) })
            .ToList();
        var emptyLabel = new PbV1.ClassifyStreamRequest { Id = "empty-label", Request = good[0].Request.Clone() };
        emptyLabel.Request.Labels[1] = "";
        var badRegion = new PbV1.ClassifyStreamRequest { Id = "bad-region", Request = good[1].Request.Clone() };
        badRegion.Request.Regions.Add(Calls.Box(30, 10, 20, 40));
        var unknownModel = new PbV1.ClassifyStreamRequest { Id = "unknown-model", Request = good[2].Request.Clone() };
        unknownModel.Request.Model = "no-such-model";
        var noRequest = new PbV1.ClassifyStreamRequest { Id = "no-request" };
        var sent = good.Take(3).Append(emptyLabel).Append(badRegion).Concat(good.Skip(3)).Append(unknownModel).Append(noRequest).ToList();

        var results = new Dictionary<string, PbV1.ClassifyStreamResponse>();
        using (var call = client.ClassifyStream(deadline: Calls.Deadline()))
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r.Id, r); // Add: an id twice fails
            });
            foreach (var item in sent) await call.RequestStream.WriteAsync(item);
            await call.RequestStream.CompleteAsync();
            await reader.WaitAsync(Calls.DefaultTimeout);
        }

        Assert.Equal(sent.Select(s => s.Id).Order(), results.Keys.Order());
        foreach (var (id, code, field) in new[]
                 {
                     ("empty-label", Code.InvalidArgument, "request.labels[1]"), ("bad-region", Code.InvalidArgument, "request.regions["),
                     ("unknown-model", Code.NotFound, null), ("no-request", Code.InvalidArgument, "request"),
                 })
        {
            var r = results[id];
            Assert.Equal(PbV1.ClassifyStreamResponse.ResultOneofCase.Error, r.ResultCase);
            Assert.Equal((int)code, r.Error.Code);
            Calls.AssertCleanMessage(r.Error.Message);
            if (field == null) continue;
            string got = Assert.Single(r.Error.GetDetail<BadRequest>()!.FieldViolations).Field;
            if (field.EndsWith('[')) Assert.StartsWith(field, got);   // "request.regions[6].box…"
            else Assert.Equal(field, got);
        }

        // Every good item equals what the unary call answers, whatever order the stream finished in.
        foreach (var item in good)
        {
            var result = results[item.Id];
            Assert.Equal(PbV1.ClassifyStreamResponse.ResultOneofCase.Classification, result.ResultCase);
            var unary = await client.ClassifyAsync(item.Request, deadline: Calls.Deadline());
            Assert.Equal("shapes-tiny", result.Classification.Model);
            Assert.Equal(Math.Max(1, item.Request.Regions.Count), result.Classification.Regions.Count);
            Assert.Equal(unary.Regions.Select(r => string.Join("|", r.Labels.Select(l => l.Label))),
                result.Classification.Regions.Select(r => string.Join("|", r.Labels.Select(l => l.Label))));
            Assert.Equal(unary.Regions.SelectMany(r => r.Labels.Select(l => l.Probability)),
                result.Classification.Regions.SelectMany(r => r.Labels.Select(l => l.Probability)), (a, b) => Math.Abs(a - b) < 1e-6);
        }
        Assert.True(good.Select(i => results[i.Id].Classification.Regions[0].Labels[0].Label).Distinct().Count() > 1,
            "every item got the same best label: the test could not tell items apart");

        // The stream counted each item as a call of its own.
        string metrics = await fixture.Host.MetricsAsync();
        Assert.True(PrometheusText.Value(metrics, "regionchat_requests_total", ("method", "ClassifyStream.item"), ("status", "OK")) >= good.Count);
    }
}
