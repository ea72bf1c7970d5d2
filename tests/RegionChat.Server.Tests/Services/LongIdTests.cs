using System.Net;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// Ids the client chose (model, session, image, CaptionStream item) are bounded by RegionChat:MaxIdLength, refused
/// up front as INVALID_ARGUMENT / 400 naming the field, and never echoed whole into an error: a 100,000-character id in
/// grpc-message broke clients ("HTTP headers length exceeded"; grpc-js hung).
/// </summary>
public class LongIdTests
{
    static readonly string Huge = new('x', 100_000);
    static readonly string Long = "m" + new string('y', 199); // under the default limit (256), over the quoting bound (64)

    static void AssertRefused(RpcException e, string field)
    {
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"expected InvalidArgument, got {e.StatusCode} ({e.Status.Detail[..Math.Min(200, e.Status.Detail.Length)]})");
        Assert.Contains("256", e.Status.Detail);
        Assert.True(e.Status.Detail.Length < 400, $"the message is {e.Status.Detail.Length} characters");
        Assert.Contains(Calls.Violations(e), v => v.Field == field);
    }

    [Fact]
    public async Task OverLongIdsAreRefusedNamingTheFieldAndLongOnesAreQuotedShort()
    {
        await using var host = await ServerHost.StartAsync();
        var scene = TestImages.Scene(51);

        AssertRefused(await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(
            new PbV1.ChatRequest { Model = Huge, Message = new() { Text = "hi" } }, deadline: Calls.Deadline()))), "model");
        AssertRefused(await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(
            Calls.Chat("hi", sessionId: Huge), deadline: Calls.Deadline()))), "session_id");
        AssertRefused(await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(
            new PbV1.ChatRequest { Message = new() { Text = "hi", Image = new() { ImageId = Huge } } }, deadline: Calls.Deadline()))), "message.image.image_id");
        AssertRefused(await Calls.FailsAsync(() => host.Client.CaptionAsync(
            new PbV1.CaptionRequest { Model = Huge, Image = new() { Data = ByteString.CopyFrom(scene) } }, deadline: Calls.Deadline()).ResponseAsync), "model");
        AssertRefused(await Calls.FailsAsync(() => host.Client.EndSessionAsync(
            new PbV1.EndSessionRequest { SessionId = Huge }, deadline: Calls.Deadline()).ResponseAsync), "session_id");

        // A CaptionStream item with an over-long id fails alone (its result carries the id as sent); the stream goes on.
        var results = new List<PbV1.CaptionStreamResponse>();
        using (var call = host.Client.CaptionStream(deadline: Calls.Deadline()))
        {
            var request = new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(scene) }, MaxTokens = 2 };
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = Huge, Request = request });
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "ok", Request = request });
            await call.RequestStream.CompleteAsync();
            await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r);
        }
        var refused = Assert.Single(results, r => r.Id == Huge);
        Assert.Equal((int)Code.InvalidArgument, refused.Error.Code);
        Assert.Equal("id", Assert.Single(refused.Error.GetDetail<BadRequest>()!.FieldViolations).Field);
        Assert.Equal(PbV1.CaptionStreamResponse.ResultOneofCase.Caption, Assert.Single(results, r => r.Id == "ok").ResultCase);

        // Ids within the limit are looked up; an unknown one is quoted short in the message.
        foreach (var e in new[]
        {
            await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(new PbV1.ChatRequest { Model = Long, Message = new() { Text = "hi" } },
                deadline: Calls.Deadline()))),
            await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", sessionId: Long), deadline: Calls.Deadline()))),
            await Calls.FailsAsync(() => host.Client.EndSessionAsync(new PbV1.EndSessionRequest { SessionId = Long }, deadline: Calls.Deadline()).ResponseAsync),
        })
        {
            Assert.Equal(StatusCode.NotFound, e.StatusCode);
            Assert.DoesNotContain(Long, e.Status.Detail);
            Assert.Contains(Long[..64] + "…(200 chars)", e.Status.Detail);
        }

        // The OpenAI endpoint: the same limit and field names; an unknown model in the path is quoted short.
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(2, OpenAiHttp.Message("user", "hi"));
        body["model"] = Huge;
        var model = await OpenAiHttp.FailsAsync(http, body);
        Assert.Equal((HttpStatusCode.BadRequest, "model"), (model.Status, model.Param));
        body = OpenAiHttp.Body(2, OpenAiHttp.Message("user", "hi"));
        body["session_id"] = Huge;
        var session = await OpenAiHttp.FailsAsync(http, body);
        Assert.Equal((HttpStatusCode.BadRequest, "session_id"), (session.Status, session.Param));
        Assert.True(session.Message.Length < 400);
        using var retrieve = await http.GetAsync("/v1/models/" + Long);
        Assert.Equal(HttpStatusCode.NotFound, retrieve.StatusCode);
        string text = await retrieve.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Long, text);
        Assert.Contains("…(200 chars)", (string?)JsonNode.Parse(text)!["error"]!["message"]);

        // Still serving, nothing held.
        Assert.Equal("tiny", (await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(scene) }, MaxTokens = 2 },
            deadline: Calls.Deadline())).Model);
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }

    [Fact]
    public async Task TheIdLimitIsASetting()
    {
        await using var host = await ServerHost.StartAsync(("MaxIdLength", "80"));
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", sessionId: "s-" + new string('0', 98)),
            deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("100 characters", e.Status.Detail);
        Assert.Contains("80", e.Status.Detail);
        Assert.Contains("RegionChat:MaxIdLength", e.Status.Detail);
    }
}
