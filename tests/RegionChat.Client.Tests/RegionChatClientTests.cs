using Google.Protobuf;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>The gRPC wrapper against a real server, compared with the generated client.</summary>
[Collection(ServerCollection.Name)]
public class RegionChatClientTests(ServerFixture server)
{
    static readonly byte[] Scene = Scenes.Png(1_000_000_202);
    static readonly GenerationOptions Greedy = new() { Temperature = 0, MaxTokens = 10 };

    [Fact]
    public async Task ChatStreamsStartedDeltasFinishedAndImagesByIdAnswerAsInlineBytes()
    {
        var turn = new ChatTurn("describe this region") { Image = Scene, Region = ImageRegion.Box(8, 8, 40, 40), Generation = Greedy };
        var events = new List<PbV1.ChatEvent>();
        await foreach (var e in server.Client.ChatStreamAsync(turn, ServerFixture.Timeout())) events.Add(e);
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Started, events[0].EventCase);
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Finished, events[^1].EventCase);
        Assert.All(events[1..^1], e => Assert.Equal(PbV1.ChatEvent.EventOneofCase.Delta, e.EventCase));
        Assert.Equal(16u, events[0].Started.VisualTokens);

        var raw = await server.RawChatAsync(new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage
            {
                Text = "describe this region",
                Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(Scene) },
                Region = new PbV1.Region { Box = new PbV1.Box { X0 = 8, Y0 = 8, X1 = 40, Y1 = 40 } },
            },
            Sampling = new PbV1.SamplingParams { Temperature = 0 },
            MaxTokens = 10,
        });
        Assert.Equal(raw.Text, string.Concat(events.Where(e => e.Delta != null).Select(e => e.Delta.Text)));

        // The same picture stored once (both ways give the same content id) and referred to by id.
        var stored = await server.Client.PutImageAsync(Scene, ServerFixture.Timeout());
        Assert.StartsWith("sha256:", stored.ImageId);
        Assert.Equal((64u, 64u), (stored.Width, stored.Height));
        using (var stream = new MemoryStream(Scene))
            Assert.Equal(stored.ImageId, (await server.Client.UploadImageAsync(stream, ServerFixture.Timeout())).ImageId);
        var byId = await server.Client.ChatAsync(turn with { Image = stored }, ServerFixture.Timeout());
        Assert.Equal(raw.Text, byId.Text);
        Assert.True(byId.Finished.Timings.VisualCacheHit, "the stored image's region was encoded again");
    }

    [Fact]
    public async Task AFormatReachesTheServer()
    {
        var turn = new ChatTurn("describe this region") { Image = Scene, Region = ImageRegion.Box(8, 8, 40, 40), Generation = Greedy };
        string free = (await server.Client.ChatAsync(turn, ServerFixture.Timeout())).Text;
        string[] choices = ["left" + free, "right"];
        var chosen = await server.Client.ChatAsync(turn with { Generation = Greedy with { Format = AnswerFormat.Choice(choices) } },
            ServerFixture.Timeout());
        Assert.Contains(chosen.Text, choices);
        var json = await server.Client.ChatAsync(turn with { Generation = Greedy with { Format = AnswerFormat.JsonObject } },
            ServerFixture.Timeout());
        Assert.StartsWith("{", json.Text);
        var schema = await server.Client.ChatAsync(turn with { Generation = Greedy with { Format = AnswerFormat.JsonSchema("""{"enum": ["yes", "no"]}""") } },
            ServerFixture.Timeout());
        Assert.Contains(schema.Text, new[] { "\"yes\"", "\"no\"" });
        var matched = await server.Client.ChatAsync(turn with { Generation = Greedy with { Format = AnswerFormat.Regex("[0-9]{2}(!|\\?)") } },
            ServerFixture.Timeout());
        Assert.Matches("^[0-9]{2}(!|\\?)$", matched.Text);
    }

    [Fact]
    public async Task UploadImageStreamsImagesLargerThanOneChunk()
    {
        var random = new Random(5);
        using var noise = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(500, 500);
        for (int y = 0; y < 500; y++)
        for (int x = 0; x < 500; x++)
            noise[x, y] = new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        using var png = new MemoryStream();
        noise.Save(png, new SixLabors.ImageSharp.Formats.Png.PngEncoder());
        Assert.True(png.Length > 2 * RegionChatClient.UploadChunkBytes);
        png.Position = 0;
        var uploaded = await server.Client.UploadImageAsync(png, ServerFixture.Timeout());
        Assert.Equal("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png.ToArray())), uploaded.ImageId);
        Assert.Equal((ulong)png.Length, uploaded.SizeBytes);
    }

    [Fact]
    public async Task SessionsContinueAndEndSessionEndsThem()
    {
        var first = await server.Client.ChatAsync(new ChatTurn("what is this?") { Image = Scene, Generation = Greedy }, ServerFixture.Timeout());
        var second = await server.Client.ChatAsync(new ChatTurn("and its colour?") { SessionId = first.SessionId, Generation = Greedy }, ServerFixture.Timeout());
        Assert.Equal(first.SessionId, second.SessionId);
        Assert.True(second.Started.CachedTokens >= first.Started.PromptTokens);

        await server.Client.EndSessionAsync(first.SessionId, ServerFixture.Timeout());
        var again = await Assert.ThrowsAsync<RegionChatException>(() => server.Client.EndSessionAsync(first.SessionId, ServerFixture.Timeout()));
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        var turn = await Assert.ThrowsAsync<RegionChatException>(() =>
            server.Client.ChatAsync(new ChatTurn("hello?") { SessionId = first.SessionId }, ServerFixture.Timeout()));
        Assert.Equal(StatusCode.NotFound, turn.StatusCode);
        Assert.Contains(first.SessionId, turn.Message);
    }

    [Fact]
    public async Task LogprobsComeWithTheAnswerWhenAskedFor()
    {
        var turn = new ChatTurn("describe this region") { Image = Scene, Region = ImageRegion.Box(8, 8, 40, 40), Generation = Greedy };
        var plain = await server.Client.ChatAsync(turn, ServerFixture.Timeout());
        Assert.Empty(plain.Logprobs);
        var asked = await server.Client.ChatAsync(turn with { Generation = Greedy with { Logprobs = 2 } }, ServerFixture.Timeout());
        Assert.Equal(plain.Text, asked.Text);
        Assert.Equal((int)asked.Finished.Usage.CompletionTokens, asked.Logprobs.Count);
        Assert.All(asked.Logprobs, l => Assert.Equal(2, l.Top.Count));

        var caption = await server.Client.CaptionAsync(Scene, ImageRegion.Box(8, 8, 40, 40), generation: Greedy with { Logprobs = 0 },
            cancellationToken: ServerFixture.Timeout());
        Assert.Equal((int)caption.Usage.CompletionTokens, caption.Logprobs.Count);
        Assert.Throws<ArgumentException>(() => (Greedy with { Logprobs = -1 }).ToSampling());

        // A logit bias of -100 on the answer's first token keeps that token out.
        int first = asked.Logprobs[0].TokenId;
        var banned = await server.Client.ChatAsync(turn with { Generation = Greedy with { Logprobs = 0, LogitBias = new Dictionary<int, float> { [first] = -100 } } },
            ServerFixture.Timeout());
        Assert.DoesNotContain(first, banned.Logprobs.Select(l => l.TokenId));
        Assert.Equal(-100, new GenerationOptions { LogitBias = new Dictionary<int, float> { [first] = -100 } }.ToSampling()!.LogitBias[first]);
    }

    [Fact]
    public async Task TokenizeGivesTheIdsGenerationUsesAndDetokenizeTheirText()
    {
        var plain = await server.Client.TokenizeAsync("the red chair", cancellationToken: ServerFixture.Timeout());
        var withBos = await server.Client.TokenizeAsync("the red chair", addBos: true, cancellationToken: ServerFixture.Timeout());
        Assert.Equal(plain.Tokens.Select(t => t.Id), withBos.Tokens.Skip(1).Select(t => t.Id));
        Assert.Empty(withBos.Tokens[0].Bytes);                                   // BOS writes nothing
        Assert.True(plain.SessionContextSize > 0);
        string text = await server.Client.DetokenizeAsync(plain.Tokens.Select(t => t.Id), cancellationToken: ServerFixture.Timeout());
        Assert.Equal("the red chair", text.TrimStart());
        Assert.Equal(text, string.Concat(plain.Tokens.Select(t => t.Bytes.ToStringUtf8())));

        var turn = new ChatTurn("describe this region") { Image = Scene, Region = ImageRegion.Box(8, 8, 40, 40), Generation = Greedy with { Logprobs = 0 } };
        var answer = await server.Client.ChatAsync(turn, ServerFixture.Timeout());
        Assert.Equal(answer.Text, (await server.Client.DetokenizeAsync(answer.Logprobs.Select(l => l.TokenId),
            cancellationToken: ServerFixture.Timeout())).TrimStart());

        var outside = await Assert.ThrowsAsync<RegionChatException>(() =>
            server.Client.DetokenizeAsync([1, int.MaxValue], cancellationToken: ServerFixture.Timeout()));
        Assert.Equal((StatusCode.InvalidArgument, "token_ids[1]"), (outside.StatusCode, Assert.Single(outside.FieldViolations).Field));
        var tooLong = await Assert.ThrowsAsync<RegionChatException>(() =>
            server.Client.TokenizeAsync(new string('a', 1 << 20), cancellationToken: ServerFixture.Timeout()));
        Assert.Equal("text", Assert.Single(tooLong.FieldViolations).Field);
        var unknown = await Assert.ThrowsAsync<RegionChatException>(() =>
            server.Client.TokenizeAsync("a", model: "nope", cancellationToken: ServerFixture.Timeout()));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task CaptionAnswersAsTheGeneratedClientDoes()
    {
        var region = ImageRegion.Union(ImageRegion.NormalizedBox(0, 0, 0.5f, 0.5f), ImageRegion.Scribble([(40, 50), (60, 50)], 6));
        var caption = await server.Client.CaptionAsync(Scene, region, generation: Greedy, cancellationToken: ServerFixture.Timeout());
        var raw = await server.Raw.CaptionAsync(new PbV1.CaptionRequest
        {
            Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(Scene) },
            Region = new PbV1.Region
            {
                Union = new PbV1.RegionUnion
                {
                    Regions =
                    {
                        new PbV1.Region { Box = new PbV1.Box { X0 = 0, Y0 = 0, X1 = 0.5f, Y1 = 0.5f, Normalized = true } },
                        new PbV1.Region { Scribble = new PbV1.Scribble { Points = { 40, 50, 60, 50 }, Width = 6 } },
                    },
                },
            },
            Sampling = new PbV1.SamplingParams { Temperature = 0 },
            MaxTokens = 10,
        }, ServerFixture.Auth, ServerFixture.Deadline());
        Assert.Equal(raw.Text, caption.Text);
        Assert.Equal(raw.Usage, caption.Usage);
        Assert.Equal("tiny", caption.Model);
    }

    [Fact]
    public async Task ListModelsNamesTheServedModelsAndTheDefault()
    {
        var models = await server.Client.ListModelsAsync(ServerFixture.Timeout());
        Assert.Equal("tiny", models.DefaultModel);
        var tiny = Assert.Single(models.Models);
        Assert.Equal("tiny", tiny.Id);
        Assert.Equal(16u, tiny.Projector.VisualTokens);
    }

    [Fact]
    public async Task ACancelledTokenIsOperationCanceledAndBadImagesAreInvalidArgument()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.Client.ListModelsAsync(cts.Token));

        var e = await Assert.ThrowsAsync<RegionChatException>(() => server.Client.PutImageAsync("not an image"u8.ToArray(), ServerFixture.Timeout()));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("data", Assert.Single(e.FieldViolations).Field);
        Assert.StartsWith("RegionChat PutImage failed: InvalidArgument: data:", e.Message);
    }
}
