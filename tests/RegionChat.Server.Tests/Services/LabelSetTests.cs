using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>shapes-tiny with stored label sets declared in the configuration (RegionChat:LabelSets).</summary>
public sealed class LabelSetHost : IAsyncLifetime
{
    public static readonly string[] Colours = ["a large red circle", "a small blue cross", "a large green square", "a small yellow triangle"];
    public static readonly string[] FileLabels = ["a small red circle", "a large blue cross"];

    readonly TempDir temp = new();
    public ServerHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string file = temp.File("labels.txt");
        File.WriteAllLines(file, ["# shapes", FileLabels[0], "", "  " + FileLabels[1] + "  "]);
        var settings = new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
            ["RegionChat:LabelSets:from-file:File"] = file,
            // Words shapes-tiny's tokenizer cannot represent: fine at start, refused for this model.
            ["RegionChat:LabelSets:odd:Labels:0"] = "a pink elephant",
        };
        for (int i = 0; i < Colours.Length; i++) settings[$"RegionChat:LabelSets:colours:Labels:{i}"] = Colours[i];
        Host = await ServerHost.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        temp.Dispose();
    }
}

/// <summary>Classify with a stored label set (issue 18): the set's labels as if given, cached, listed; unknown ids name the field.</summary>
public class LabelSetTests(LabelSetHost fixture) : IClassFixture<LabelSetHost>
{
    static ByteString ScenePng(long seed)
    {
        using var temp = new TempDir();
        ShapesGenerator.Generate(seed).SavePng(temp.File("x.png"));
        return ByteString.CopyFrom(File.ReadAllBytes(temp.File("x.png")));
    }

    static PbV1.ClassifyRequest Request(long seed, string labelSet = "", params string[] labels)
    {
        var request = new PbV1.ClassifyRequest { Image = new() { Data = ScenePng(seed) }, LabelSet = labelSet };
        request.Labels.AddRange(labels);
        return request;
    }

    static string Ranking(PbV1.ClassifyResponse r) => string.Join(" | ", r.Regions[0].Labels.Select(l => $"{l.Label}={l.Probability:F6}"));

    [Fact]
    public async Task A_label_set_classifies_as_its_labels_would_and_shares_their_cached_text_features()
    {
        var client = fixture.Host.Client;
        // Ids are case-insensitive, as configuration keys are.
        var stored = await client.ClassifyAsync(Request(ShapesSeeds.TestStart + 21, "COLOURS"), deadline: Calls.Deadline());
        Assert.Equal(LabelSetHost.Colours.Order(), stored.Regions[0].Labels.Select(l => l.Label).Order());
        var given = await client.ClassifyAsync(Request(ShapesSeeds.TestStart + 21, "", LabelSetHost.Colours), deadline: Calls.Deadline());
        Assert.Equal(Ranking(given), Ranking(stored));
        // The set's text features were computed once: the explicit labels found all of them cached.
        Assert.Equal((uint)LabelSetHost.Colours.Length, given.Timings.TextCacheHits);

        var fromFile = await client.ClassifyAsync(Request(ShapesSeeds.TestStart + 22, "from-file"), deadline: Calls.Deadline());
        Assert.Equal(LabelSetHost.FileLabels.Order(), fromFile.Regions[0].Labels.Select(l => l.Label).Order());

        var models = await client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Equal(["colours", "from-file", "odd"], models.LabelSets.Select(s => s.Id));
        Assert.Equal(LabelSetHost.Colours, models.LabelSets[0].Labels);
        Assert.Equal(LabelSetHost.FileLabels, models.LabelSets[1].Labels);
    }

    [Theory]
    [InlineData("no-such-set", false, StatusCode.NotFound)]
    [InlineData("colours", true, StatusCode.InvalidArgument)]
    [InlineData("odd", false, StatusCode.InvalidArgument)]
    public async Task Bad_label_sets_name_the_field_and_the_server_keeps_serving(string labelSet, bool withLabels, StatusCode code)
    {
        var request = withLabels ? Request(ShapesSeeds.TestStart + 23, labelSet, "a large red circle") : Request(ShapesSeeds.TestStart + 23, labelSet);
        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Host.Client.ClassifyAsync(request, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(code, e.StatusCode);
        Assert.Equal("label_set", Assert.Single(Calls.Violations(e)).Field);
        Calls.AssertCleanMessage(e.Status.Detail);
        if (code == StatusCode.NotFound) Assert.Contains("colours, from-file, odd", e.Status.Detail);

        var ok = await fixture.Host.Client.ClassifyAsync(Request(ShapesSeeds.TestStart + 23, "colours"), deadline: Calls.Deadline());
        Assert.Single(ok.Regions);
    }

    [Fact]
    public async Task ClassifyStream_items_and_v1_classify_take_label_sets_too()
    {
        var results = new Dictionary<string, PbV1.ClassifyStreamResponse>();
        using (var call = fixture.Host.Client.ClassifyStream(deadline: Calls.Deadline()))
        {
            await call.RequestStream.WriteAsync(new PbV1.ClassifyStreamRequest { Id = "set", Request = Request(ShapesSeeds.TestStart + 24, "colours") });
            await call.RequestStream.WriteAsync(new PbV1.ClassifyStreamRequest { Id = "unknown", Request = Request(ShapesSeeds.TestStart + 24, "nope") });
            await call.RequestStream.CompleteAsync();
            await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r.Id, r);
        }
        Assert.Equal(LabelSetHost.Colours.Length, results["set"].Classification.Regions[0].Labels.Count);
        Assert.Equal((int)Code.NotFound, results["unknown"].Error.Code);
        Assert.Equal("request.label_set", Assert.Single(results["unknown"].Error.GetDetail<BadRequest>()!.FieldViolations).Field);

        using var http = new HttpClient { BaseAddress = fixture.Host.HttpAddress, Timeout = Calls.DefaultTimeout };
        string image = "data:image/png;base64," + Convert.ToBase64String(ScenePng(ShapesSeeds.TestStart + 24).ToByteArray());
        using var ok = await http.PostAsJsonAsync("/v1/classify", new Dictionary<string, object> { ["image"] = image, ["label_set"] = "from-file" });
        string text = await ok.Content.ReadAsStringAsync();
        Assert.True(ok.StatusCode == HttpStatusCode.OK, text);
        using (var doc = JsonDocument.Parse(text))
            Assert.Equal(LabelSetHost.FileLabels.Length, doc.RootElement.GetProperty("regions")[0].GetProperty("labels").GetArrayLength());
        using var missing = await http.PostAsJsonAsync("/v1/classify", new Dictionary<string, object> { ["image"] = image, ["label_set"] = "nope" });
        string error = await missing.Content.ReadAsStringAsync();
        Assert.True(missing.StatusCode == HttpStatusCode.NotFound, error);
        using (var doc = JsonDocument.Parse(error))
            Assert.Equal("label_set", doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
