using Google.Protobuf;
using Grpc.Core;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>A server with small limits, shared by the bad-request table.</summary>
public sealed class SmallLimitsHost : IAsyncLifetime
{
    public const int MaxImageBytes = 16384, MaxPromptBytes = 2048, ContextSize = 256;
    public ServerHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServerHost.StartAsync(
        ("MaxImageBytes", MaxImageBytes.ToString()), ("MaxPromptBytes", MaxPromptBytes.ToString()), ("ContextSize", ContextSize.ToString()));

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Every bad request gets a precise status, INVALID_ARGUMENT names the offending field in a google.rpc.BadRequest,
/// messages are sentences (no stack traces), and the server keeps serving afterwards.
/// </summary>
public class BadRequestTests(SmallLimitsHost fixture) : IClassFixture<SmallLimitsHost>
{
    /// <summary>One row of the table: what is sent, the status it must get and, for INVALID_ARGUMENT, the field.</summary>
    public sealed record BadCase(string Name, StatusCode Code, string? Field, Func<ServerHost, Task> Call, string? MessageContains = null);

    static readonly byte[] Scene = TestImages.Scene(11);
    static readonly string MissingId = "sha256:" + new string('0', 64);

    static Func<ServerHost, Task> Chat(PbV1.ChatRequest request) =>
        h => Calls.DrainAsync(h.Client.Chat(request, deadline: Calls.Deadline()));

    static Func<ServerHost, Task> ChatAbout(PbV1.Region region, byte[]? image = null) =>
        Chat(Calls.Chat("what is this?", image ?? Scene, region));

    static Func<ServerHost, Task> ChatWith(Action<PbV1.ChatRequest> change)
    {
        var request = Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32));
        change(request);
        return Chat(request);
    }

    static Func<ServerHost, Task> Caption(PbV1.CaptionRequest request) =>
        h => h.Client.CaptionAsync(request, deadline: Calls.Deadline()).ResponseAsync;

    static PbV1.ImageInput Image(byte[] bytes) => new() { Data = ByteString.CopyFrom(bytes) };

    static PbV1.Region Rle(uint h, uint w, params uint[] counts) =>
        new() { Rle = new PbV1.CocoRle { Size = { h, w }, Uncompressed = new PbV1.CountList { Counts = { counts } } } };

    static PbV1.Region RleString(string compressed) =>
        new() { Rle = new PbV1.CocoRle { Size = { 64, 64 }, Compressed = compressed } };

    static Func<ServerHost, Task> Upload(params byte[][] chunks) => async h =>
    {
        using var call = h.Client.UploadImage(deadline: Calls.Deadline());
        foreach (var c in chunks) await call.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(c) });
        await call.RequestStream.CompleteAsync();
        await call.ResponseAsync;
    };

    const StatusCode Invalid = StatusCode.InvalidArgument, NotFound = StatusCode.NotFound;

    public static readonly BadCase[] Cases =
    [
        // Images
        new("corrupt image: truncated PNG", Invalid, "message.image.data", Chat(Calls.Chat("hi", TestImages.TruncatedPng()))),
        new("not an image", Invalid, "message.image.data", Chat(Calls.Chat("hi", TestImages.NotAnImage())), "not an image"),
        new("huge image: PNG header claiming 30000x30000", Invalid, "message.image.data",
            Chat(Calls.Chat("hi", TestImages.PngHeaderClaiming(30000, 30000))), "30000"),
        new("image over MaxImageBytes", Invalid, "message.image.data", Chat(Calls.Chat("hi", TestImages.Noise(96, 1))), "limit"),
        new("image input with neither data nor id", Invalid, "message.image",
            ChatWith(r => r.Message.Image = new PbV1.ImageInput())),
        new("malformed image id", Invalid, "message.image.image_id",
            ChatWith(r => r.Message.Image = new PbV1.ImageInput { ImageId = "sha256:not-hex" })),
        new("unknown image id", NotFound, null, ChatWith(r => r.Message.Image = new PbV1.ImageInput { ImageId = MissingId }), MissingId),
        // Regions
        new("mask of another size", Invalid, "message.region.mask_png",
            ChatAbout(new PbV1.Region { MaskPng = ByteString.CopyFrom(TestImages.Mask(32, 32, 0, 0, 16, 16)) }), "32×32"),
        new("mask that is not an image", Invalid, "message.region.mask_png",
            ChatAbout(new PbV1.Region { MaskPng = ByteString.CopyFrom(TestImages.NotAnImage()) })),
        new("RLE: malformed compressed string", Invalid, "message.region.rle.compressed", ChatAbout(RleString("0!#")), "'!'"),
        new("RLE: compressed string ends mid-number", Invalid, "message.region.rle.compressed", ChatAbout(RleString("1`"))),
        new("RLE: counts do not sum to the size", Invalid, "message.region.rle.uncompressed.counts", ChatAbout(Rle(64, 64, 10, 5)), "4096"),
        new("RLE: size does not match the image", Invalid, "message.region.rle.size", ChatAbout(Rle(32, 32, 0, 1024))),
        new("RLE: size with one value", Invalid, "message.region.rle.size",
            ChatAbout(new PbV1.Region { Rle = new PbV1.CocoRle { Size = { 64 }, Uncompressed = new PbV1.CountList { Counts = { 0, 64 } } } })),
        new("box wholly outside the image", Invalid, "message.region.box", ChatAbout(Calls.Box(100, 100, 120, 120)), "outside"),
        new("box with x1 < x0", Invalid, "message.region.box", ChatAbout(Calls.Box(20, 0, 10, 10))),
        new("box with a NaN corner", Invalid, "message.region.box.x0", ChatAbout(Calls.Box(float.NaN, 0, 10, 10))),
        new("empty polygon", Invalid, "message.region.polygon.points", ChatAbout(new PbV1.Region { Polygon = new PbV1.Polygon() })),
        new("polygon with 2 points", Invalid, "message.region.polygon.points",
            ChatAbout(new PbV1.Region { Polygon = new PbV1.Polygon { Points = { 1, 1, 20, 20 } } }), "3 points"),
        new("scribble of width 0", Invalid, "message.region.scribble.width",
            ChatAbout(new PbV1.Region { Scribble = new PbV1.Scribble { Points = { 1, 1, 20, 20 }, Width = 0 } })),
        new("scribble of width NaN", Invalid, "message.region.scribble.width",
            ChatAbout(new PbV1.Region { Scribble = new PbV1.Scribble { Points = { 1, 1, 20, 20 }, Width = float.NaN } })),
        new("scribble without points", Invalid, "message.region.scribble.points",
            ChatAbout(new PbV1.Region { Scribble = new PbV1.Scribble { Width = 3 } })),
        new("region with no kind set", Invalid, "message.region", ChatAbout(new PbV1.Region())),
        new("union with a part outside the image", Invalid, "message.region.union.regions[1].box",
            ChatAbout(new PbV1.Region { Union = new PbV1.RegionUnion { Regions = { Calls.Box(0, 0, 8, 8), Calls.Box(200, 200, 210, 210) } } })),
        new("region without any image in a new session", Invalid, "message.region",
            Chat(Calls.Chat("what is this?", null, Calls.Box(0, 0, 8, 8))), "needs an image"),
        // Sampling and limits
        new("temperature NaN", Invalid, "sampling.temperature", ChatWith(r => r.Sampling = new() { Temperature = float.NaN })),
        new("negative temperature", Invalid, "sampling.temperature", ChatWith(r => r.Sampling = new() { Temperature = -0.5f })),
        new("top_p 0", Invalid, "sampling.top_p", ChatWith(r => r.Sampling = new() { TopP = 0 })),
        new("logprobs 21", Invalid, "sampling.logprobs", ChatWith(r => r.Sampling = new() { Logprobs = 21 }), "[0, 20]"),
        new("caption logprobs past int range", Invalid, "sampling.logprobs",
            Caption(new PbV1.CaptionRequest { Image = Image(Scene), Sampling = new() { Logprobs = uint.MaxValue } })),
        new("top_p above 1", Invalid, "sampling.top_p", ChatWith(r => r.Sampling = new() { TopP = 1.5f })),
        new("negative top_k", Invalid, "sampling.top_k", ChatWith(r => r.Sampling = new() { TopK = -1 })),
        new("min_p above 1", Invalid, "sampling.min_p", ChatWith(r => r.Sampling = new() { MinP = 2 })),
        new("repeat_penalty 0", Invalid, "sampling.repeat_penalty", ChatWith(r => r.Sampling = new() { RepeatPenalty = 0 })),
        new("logit bias of 101", Invalid, "sampling.logit_bias[7]", ChatWith(r => r.Sampling = new() { LogitBias = { [7] = 101 } }), "[-100, 100]"),
        new("logit bias of a negative id", Invalid, "sampling.logit_bias[-3]", ChatWith(r => r.Sampling = new() { LogitBias = { [-3] = 1 } })),
        new("logit bias of 1025 ids", Invalid, "sampling.logit_bias",
            ChatWith(r => r.Sampling = new() { LogitBias = { Enumerable.Range(0, 1025).ToDictionary(i => i, _ => 1f) } }), "1024"),
        new("logit bias outside the vocabulary", Invalid, "sampling.logit_bias",
            ChatWith(r => r.Sampling = new() { LogitBias = { [1 << 30] = -100 } }), "outside the model's vocabulary"),
        new("caption logit bias outside the vocabulary", Invalid, "sampling.logit_bias",
            Caption(new PbV1.CaptionRequest { Image = Image(Scene), Sampling = new() { LogitBias = { [1 << 30] = -100 } } }), "outside"),
        new("max_tokens over the limit", Invalid, "max_tokens", ChatWith(r => r.MaxTokens = 5000), "4096"),
        new("too many stop strings", Invalid, "stop", ChatWith(r => r.Stop.Add(Enumerable.Range(0, 9).Select(i => "s" + i)))),
        new("empty stop string", Invalid, "stop[0]", ChatWith(r => r.Stop.Add(""))),
        // Text and context
        new("no message", Invalid, "message", Chat(new PbV1.ChatRequest())),
        new("empty text and no image", Invalid, "message.text", Chat(Calls.Chat(""))),
        new("text over MaxPromptBytes", Invalid, "message.text",
            Chat(Calls.Chat(new string('a', SmallLimitsHost.MaxPromptBytes + 1))), SmallLimitsHost.MaxPromptBytes.ToString()),
        new("system prompt over MaxPromptBytes", Invalid, "system_prompt",
            ChatWith(r => r.SystemPrompt = new string('a', SmallLimitsHost.MaxPromptBytes + 1))),
        new("visual tokens + text that do not fit the context", Invalid, "message.text",
            Chat(Calls.Chat(string.Join(" ", Enumerable.Repeat("red", SmallLimitsHost.ContextSize)), Scene)), "context holds"),
        // Unknown things
        new("unknown session", NotFound, null, Chat(Calls.Chat("hi", sessionId: "s-no-such-session")), "s-no-such-session"),
        new("unknown model", NotFound, null, ChatWith(r => r.Model = "no-such-model"), "no-such-model"),
        new("EndSession of an unknown session", NotFound, null,
            h => h.Client.EndSessionAsync(new() { SessionId = "s-gone" }, deadline: Calls.Deadline()).ResponseAsync, "s-gone"),
        // Caption
        new("Caption without an image", Invalid, "image", Caption(new PbV1.CaptionRequest())),
        new("Caption of a box outside the image", Invalid, "region.box",
            Caption(new PbV1.CaptionRequest { Image = Image(Scene), Region = Calls.Box(-50, -50, -10, -10) })),
        new("Caption of a corrupt image", Invalid, "image.data", Caption(new PbV1.CaptionRequest { Image = Image(TestImages.TruncatedPng()) })),
        new("Caption with an over-long instruction", Invalid, "instruction",
            Caption(new PbV1.CaptionRequest { Image = Image(Scene), Instruction = new string('b', SmallLimitsHost.MaxPromptBytes + 1) })),
        new("Caption with an unknown model", NotFound, null, Caption(new PbV1.CaptionRequest { Image = Image(Scene), Model = "nope" })),
        // Image store
        new("PutImage with no bytes", Invalid, "data", h => h.Client.PutImageAsync(new(), deadline: Calls.Deadline()).ResponseAsync),
        new("PutImage of a non-image", Invalid, "data",
            h => h.Client.PutImageAsync(new() { Data = ByteString.CopyFrom(TestImages.NotAnImage()) }, deadline: Calls.Deadline()).ResponseAsync),
        new("PutImage over MaxImageBytes", Invalid, "data",
            h => h.Client.PutImageAsync(new() { Data = ByteString.CopyFrom(TestImages.Noise(96, 2)) }, deadline: Calls.Deadline()).ResponseAsync),
        new("UploadImage over MaxImageBytes", Invalid, "data", Upload(TestImages.Noise(96, 3).Chunk(4096).ToArray())),
        new("UploadImage with no chunks", Invalid, "data", Upload()),
    ];

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task BadRequestGetsItsStatusAndField(string name)
    {
        var c = Cases.Single(c => c.Name == name);
        await Check(c, fixture.Host);
    }

    [Fact]
    public async Task AfterTheWholeTableTheServerStillServesAndHoldsNothing()
    {
        var host = fixture.Host;
        foreach (var c in Cases) await Check(c, host);

        // Failed turns leave no session, ticket or KV cells behind.
        Assert.Equal(0, host.Sessions.Count);
        Assert.Equal(0, host.Admission.InFlight);
        Assert.Equal(0, host.Model.Llm.Statistics.SequencesHeld);

        var chat = await host.Client.ChatAsync(Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32)));
        Assert.Equal(16u, chat.Started.VisualTokens);
        Assert.NotEqual(PbV1.FinishReason.Cancelled, chat.Finished.Reason);
        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = Image(Scene), MaxTokens = 4 }, deadline: Calls.Deadline());
        Assert.Equal("tiny", caption.Model);
    }

    [Fact]
    public void TheTableCoversAtLeastTwentyCasesWithDistinctNames()
    {
        Assert.True(Cases.Length >= 20);
        Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());
    }

    static async Task Check(BadCase c, ServerHost host)
    {
        var e = await Calls.FailsAsync(() => c.Call(host));
        Assert.True(c.Code == e.StatusCode, $"{c.Name}: expected {c.Code}, got {e.StatusCode} ({e.Status.Detail})");
        Calls.AssertCleanMessage(e.Status.Detail);
        if (c.MessageContains != null)
            Assert.True(e.Status.Detail.Contains(c.MessageContains, StringComparison.Ordinal), $"{c.Name}: '{e.Status.Detail}' does not mention '{c.MessageContains}'");
        var violations = Calls.Violations(e);
        if (c.Code == StatusCode.InvalidArgument)
        {
            Assert.True(violations.Any(v => v.Field == c.Field),
                $"{c.Name}: no violation of field '{c.Field}' in [{string.Join(", ", violations.Select(v => v.Field + ": " + v.Description))}]");
            Assert.All(violations, v => Calls.AssertCleanMessage(v.Description));
        }
        else Assert.Empty(violations);
    }
}
