using System.Net;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>A server with a small region budget (RegionChat:Regions), shared by the budget tests.</summary>
public sealed class SmallRegionBudgetHost : IAsyncLifetime
{
    public const int MaxPoints = 1000, MaxScribbleCost = 20_000, MaxUnionParts = 8, MaxUnionDepth = 2, MaxMaskPixels = 10_000,
        MaxRleRuns = 100;
    public ServerHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServerHost.StartAsync(
        ("Regions:MaxPoints", MaxPoints.ToString()), ("Regions:MaxScribbleCost", MaxScribbleCost.ToString()),
        ("Regions:MaxUnionParts", MaxUnionParts.ToString()), ("Regions:MaxUnionDepth", MaxUnionDepth.ToString()),
        ("Regions:MaxMaskPixels", MaxMaskPixels.ToString()), ("Regions:MaxRleRuns", MaxRleRuns.ToString()));

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Issue 16.1–2: a region's cost (points, stroke width × points, union size and depth, mask pixels summed over a union) is
/// checked against RegionChat:Regions before anything is decoded or drawn, the same over gRPC, gRPC-Web and /v1: the
/// attacks of the issue, scaled down by a small budget, get INVALID_ARGUMENT / 400 naming the field and the setting.
/// </summary>
public class RegionBudgetTests(SmallRegionBudgetHost fixture) : IClassFixture<SmallRegionBudgetHost>
{
    const string Setting = "RegionChat:Regions:";
    static readonly byte[] Scene = TestImages.Scene(11); // 64×64: a mask of it is 4096 pixels

    static float[] Zigzag(int points) => Enumerable.Range(0, points).SelectMany(i => new[] { (float)(i % 64), i % 2 == 0 ? 4f : 60f }).ToArray();

    static float[] Circle(int points) => Enumerable.Range(0, points)
        .SelectMany(i => new[] { 32 + 20 * MathF.Cos(i * 2 * MathF.PI / points), 32 + 20 * MathF.Sin(i * 2 * MathF.PI / points) }).ToArray();

    static PbV1.Region Polygon(int points) => new() { Polygon = new PbV1.Polygon { Points = { Zigzag(points) } } };

    static PbV1.Region Union(params PbV1.Region[] parts) => new() { Union = new PbV1.RegionUnion { Regions = { parts } } };

    static PbV1.Region Mask(byte[] png) => new() { MaskPng = ByteString.CopyFrom(png) };

    static byte[] SceneMask() => TestImages.Mask(64, 64, 8, 8, 40, 40);

    public static TheoryData<string, string, string> GrpcCases() => new()
    {
        { "polygon", "message.region.polygon.points", "MaxPoints" },
        { "scribble", "message.region.scribble.points", "MaxScribbleCost" },
        { "union parts", "message.region.union.regions", "MaxUnionParts" },
        { "union depth", "message.region.union.regions[0].union.regions[0].union", "MaxUnionDepth" },
        // The header claims 6000×6000 but the body is a few bytes: refused by the budget before any decoding (a decode
        // would say the image is not usable).
        { "huge mask header", "message.region.union.regions[1].mask_png", "MaxMaskPixels" },
        // Three valid 64×64 masks are 12,288 pixels: the third goes over 10,000.
        { "masks summed", "message.region.union.regions[2].mask_png", "MaxMaskPixels" },
        // Valid RLEs of the image's size, one run too many: refused before the counts are decoded.
        { "rle runs, compressed", "message.region.rle.compressed", "MaxRleRuns" },
        { "rle runs, uncompressed", "message.region.rle.uncompressed.counts", "MaxRleRuns" },
    };

    /// <summary>Counts of a 64×64 RLE with <paramref name="runs"/> runs (an empty first run, then runs of 40, the last
    /// one taking the rest).</summary>
    static uint[] RleCounts(int runs) => [0, .. Enumerable.Repeat(40u, runs - 2), (uint)(4096 - 40 * (runs - 2))];

    static PbV1.Region RleRegion(int runs, bool compressed) => new()
    {
        Rle = compressed
            ? new PbV1.CocoRle { Size = { 64, 64 }, Compressed = new RegionChat.Data.Regions.CocoRle(64, 64, [.. RleCounts(runs).Select(c => (long)c)]).ToCompressedString() }
            : new PbV1.CocoRle { Size = { 64, 64 }, Uncompressed = new PbV1.CountList { Counts = { RleCounts(runs) } } },
    };

    static PbV1.Region GrpcRegion(string name) => name switch
    {
        "polygon" => Polygon(SmallRegionBudgetHost.MaxPoints + 1),
        "scribble" => new() { Scribble = new PbV1.Scribble { Points = { Zigzag(500) }, Width = 100 } }, // 500 × 100 = 50,000
        "union parts" => Union(Enumerable.Range(0, SmallRegionBudgetHost.MaxUnionParts + 1).Select(i => Calls.Box(i, i, i + 8, i + 8)).ToArray()),
        "union depth" => Union(Union(Union(Calls.Box(0, 0, 8, 8)))),
        "huge mask header" => Union(Calls.Box(0, 0, 8, 8), Mask(TestImages.PngHeaderClaiming(6000, 6000))),
        "masks summed" => Union(Mask(SceneMask()), Mask(SceneMask()), Mask(SceneMask())),
        "rle runs, compressed" => RleRegion(SmallRegionBudgetHost.MaxRleRuns + 1, compressed: true),
        "rle runs, uncompressed" => RleRegion(SmallRegionBudgetHost.MaxRleRuns + 1, compressed: false),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnRleOfExactlyMaxRleRunsIsAnswered(bool compressed)
    {
        var answer = await fixture.Host.Client.ChatAsync(Calls.Chat("what is this?", Scene, RleRegion(SmallRegionBudgetHost.MaxRleRuns, compressed)));
        Assert.True(answer.Finished.Usage.CompletionTokens > 0);
    }

    [Theory]
    [MemberData(nameof(GrpcCases))]
    public async Task OverGrpcARegionOverItsBudgetIsInvalidArgumentNamingTheFieldAndTheSetting(string name, string field, string setting)
    {
        var host = fixture.Host;
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("what is this?", Scene, GrpcRegion(name)),
            deadline: Calls.Deadline())));
        AssertRefusal(e, field, setting);
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }

    [Theory]
    [InlineData(GrpcWebMode.GrpcWebText)]
    [InlineData(GrpcWebMode.GrpcWeb)]
    public async Task OverGrpcWebTheSameBudgetHolds(GrpcWebMode mode)
    {
        using var channel = GrpcChannel.ForAddress(fixture.Host.HttpAddress, new GrpcChannelOptions
        {
            HttpHandler = new GrpcWebHandler(mode, new HttpClientHandler()),
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        var client = new PbV1.RegionChat.RegionChatClient(channel);
        foreach (var (name, field, setting) in new[] { ("polygon", "region.polygon.points", "MaxPoints"), ("masks summed", "region.union.regions[2].mask_png", "MaxMaskPixels") })
        {
            var request = new PbV1.CaptionRequest { Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(Scene) }, Region = GrpcRegion(name), MaxTokens = 4 };
            var e = await Calls.FailsAsync(() => client.CaptionAsync(request, deadline: Calls.Deadline()).ResponseAsync);
            AssertRefusal(e, field, setting);
        }
    }

    static JsonObject JsonBox(int i) => new() { ["box"] = new JsonArray(i, i, i + 8, i + 8) };

    static JsonObject JsonMask(byte[] png) => new() { ["mask"] = TestImages.DataUrl(png) };

    public static TheoryData<string, string, string> JsonCases() => new()
    {
        { "polygon", ".polygon", "MaxPoints" },
        { "scribble", ".scribble", "MaxScribbleCost" },
        { "union parts", "", "MaxUnionParts" },
        { "huge mask header", "[1].mask", "MaxMaskPixels" },
        { "masks summed", "[2].mask", "MaxMaskPixels" },
        { "rle runs", ".rle.counts", "MaxRleRuns" },
    };

    static JsonNode JsonRegion(string name) => name switch
    {
        // The JSON form had no point limit at all (a 1,000,000-point polygon was accepted).
        "polygon" => new JsonObject { ["polygon"] = new JsonArray(Zigzag(SmallRegionBudgetHost.MaxPoints + 1).Select(v => (JsonNode)v).ToArray()) },
        "scribble" => new JsonObject
        {
            ["scribble"] = new JsonObject { ["points"] = new JsonArray(Zigzag(500).Select(v => (JsonNode)v).ToArray()), ["width"] = 100 },
        },
        "union parts" => new JsonArray(Enumerable.Range(0, SmallRegionBudgetHost.MaxUnionParts + 1).Select(i => (JsonNode)JsonBox(i)).ToArray()),
        "huge mask header" => new JsonArray(JsonBox(0), JsonMask(TestImages.PngHeaderClaiming(6000, 6000))),
        "masks summed" => new JsonArray(JsonMask(SceneMask()), JsonMask(SceneMask()), JsonMask(SceneMask())),
        "rle runs" => new JsonObject
        {
            ["rle"] = new JsonObject
            {
                ["size"] = new JsonArray(64, 64),
                ["counts"] = new JsonArray(RleCounts(SmallRegionBudgetHost.MaxRleRuns + 1).Select(c => (JsonNode)c).ToArray()),
            },
        },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(JsonCases))]
    public async Task OverTheOpenAiApiARegionOverItsBudgetIs400NamingTheParamAndTheSetting(string name, string sub, string setting)
    {
        const string region = "messages[0].content[1].region";
        using var http = OpenAiHttp.Http(fixture.Host);
        var e = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is this?", Scene, JsonRegion(name))));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal(region + sub, e.Param);
        Assert.Equal("invalid_region", e.Code);
        Assert.Contains(Setting + setting, e.Message);
    }

    [Fact]
    public async Task WithinTheBudgetTheSameFormsAreAnswered()
    {
        var host = fixture.Host;
        // Two masks (8,192 pixels), a polygon of MaxPoints points, a union of MaxUnionParts boxes, MaxUnionDepth levels.
        foreach (var region in new[]
        {
            Union(Mask(SceneMask()), Mask(SceneMask())),
            new PbV1.Region { Polygon = new PbV1.Polygon { Points = { Circle(SmallRegionBudgetHost.MaxPoints) } } },
            Union(Enumerable.Range(0, SmallRegionBudgetHost.MaxUnionParts).Select(i => Calls.Box(i, i, i + 8, i + 8)).ToArray()),
            Union(Union(Calls.Box(0, 0, 8, 8))),
        })
        {
            var chat = await host.Client.ChatAsync(Calls.Chat("what is this?", Scene, region));
            Assert.Equal(16u, chat.Started.VisualTokens);
        }
    }

    static void AssertRefusal(RpcException e, string field, string setting)
    {
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Calls.AssertCleanMessage(e.Status.Detail);
        var violations = Calls.Violations(e);
        Assert.True(violations.Any(v => v.Field == field && v.Description.Contains(Setting + setting)),
            $"no violation of '{field}' naming {Setting}{setting} in [{string.Join(", ", violations.Select(v => v.Field + ": " + v.Description))}]");
    }
}
