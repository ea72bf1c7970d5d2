using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>CaptionStream: many items, results keyed by the client's ids, failures per item.</summary>
public class CaptionStreamTests
{
    [Fact]
    public async Task ResultsComeKeyedByIdAndEqualUnaryCaptionsWhileBadItemsFailAlone()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "4"));
        var items = Enumerable.Range(0, 10).Select(i => new PbV1.CaptionStreamRequest
        {
            Id = $"item-{i}",
            Request = new PbV1.CaptionRequest
            {
                Image = new PbV1.ImageInput { Data = ByteString.CopyFrom(TestImages.Scene(60 + i % 5)) },
                Region = Calls.Box(i * 4, 0, i * 4 + 24, 64),
                MaxTokens = 6,
            },
        }).ToList();
        var bad = new PbV1.CaptionStreamRequest { Id = "bad-box", Request = items[0].Request.Clone() };
        bad.Request.Region = Calls.Box(500, 500, 600, 600);
        var empty = new PbV1.CaptionStreamRequest { Id = "no-request" };
        var sent = items.Take(5).Append(bad).Concat(items.Skip(5)).Append(empty).ToList();

        var results = new Dictionary<string, PbV1.CaptionStreamResponse>();
        using (var call = host.Client.CaptionStream(deadline: Calls.Deadline()))
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r.Id, r); // Add: an id twice fails
            });
            foreach (var item in sent) await call.RequestStream.WriteAsync(item);
            await call.RequestStream.CompleteAsync();
            await reader;
        }

        Assert.Equal(sent.Select(s => s.Id).Order(), results.Keys.Order());
        var badResult = results["bad-box"];
        Assert.Equal(PbV1.CaptionStreamResponse.ResultOneofCase.Error, badResult.ResultCase);
        Assert.Equal((int)Code.InvalidArgument, badResult.Error.Code);
        Assert.Equal("request.region.box", Assert.Single(badResult.Error.GetDetail<BadRequest>()!.FieldViolations).Field);
        Calls.AssertCleanMessage(badResult.Error.Message);
        Assert.Equal("request", Assert.Single(results["no-request"].Error.GetDetail<BadRequest>()!.FieldViolations).Field);

        // Every good item equals what the unary call answers (greedy), whatever order the stream finished in.
        foreach (var item in items)
        {
            var result = results[item.Id];
            Assert.Equal(PbV1.CaptionStreamResponse.ResultOneofCase.Caption, result.ResultCase);
            var unary = await host.Client.CaptionAsync(item.Request, deadline: Calls.Deadline());
            Assert.Equal(unary.Text, result.Caption.Text);
            Assert.Equal(unary.Reason, result.Caption.Reason);
            Assert.Equal(unary.Usage.CompletionTokens, result.Caption.Usage.CompletionTokens);
            Assert.Equal(16u, result.Caption.Usage.VisualTokens);
            Assert.Equal("tiny", result.Caption.Model);
        }
        Assert.True(items.Select(i => results[i.Id].Caption.Text).Distinct().Count() > 1, "all captions are equal: the test could not tell items apart");
        // Captions keep no session.
        Assert.Equal(0, host.Sessions.Count);
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics is { SequencesHeld: 0, UsedCells: 0 }));
    }

    [Fact]
    public async Task AnIdStillInFlightEndsTheStreamAsInvalidArgumentAndAnAnsweredIdMayBeReused()
    {
        await using var host = await ServerHost.StartAsync();
        // Over a thousand tokens for this scene: the first item is still running when its duplicate arrives.
        var running = new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(70) }, MaxTokens = 300 };
        var results = new List<PbV1.CaptionStreamResponse>();
        var e = await Calls.FailsAsync(async () =>
        {
            using var call = host.Client.CaptionStream(deadline: Calls.Deadline());
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "same", Request = running });
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "same", Request = running });
            await call.RequestStream.CompleteAsync();
            await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r);
        });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("'same'", e.Status.Detail);
        Assert.Equal("id", Assert.Single(Calls.Violations(e)).Field);
        // The item in flight was answered (once) before the stream ended.
        Assert.Equal(PbV1.CaptionStreamResponse.ResultOneofCase.Caption, Assert.Single(results, r => r.Id == "same").ResultCase);

        // An id whose result has arrived may come again (a client's retry): it is answered again.
        using (var call = host.Client.CaptionStream(deadline: Calls.Deadline()))
        {
            var quick = new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(71) }, MaxTokens = 2 };
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "retry", Request = quick });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal(("retry", PbV1.CaptionStreamResponse.ResultOneofCase.Caption), (call.ResponseStream.Current.Id, call.ResponseStream.Current.ResultCase));
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "retry", Request = quick });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal(("retry", PbV1.CaptionStreamResponse.ResultOneofCase.Caption), (call.ResponseStream.Current.Id, call.ResponseStream.Current.ResultCase));
            Assert.False(await call.ResponseStream.MoveNext());
        }
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }

    [Fact]
    public async Task CancellingTheStreamMidwayFreesEveryItem()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "2"));
        using var cts = new CancellationTokenSource();
        using var call = host.Client.CaptionStream(deadline: Calls.Deadline(), cancellationToken: cts.Token);
        for (int i = 0; i < 8; i++)
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest
            {
                Id = $"long-{i}",
                // Long answers (over a thousand tokens for these scenes), so items are still running at the cancel. Each
                // reserves KV cells for its max_tokens, so two of them fit the 4096-cell context at once.
                Request = new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(70 + i) }, MaxTokens = 1000 },
            });
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics.SequencesHeld == 2), "two items did not start");
        cts.Cancel();
        var e = await Calls.FailsAsync(async () => { await foreach (var _ in call.ResponseStream.ReadAllAsync()) { } });
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);

        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0 && host.Model.Llm.Statistics is { SequencesHeld: 0, UsedCells: 0, ReservedCells: 0, QueuedRequests: 0 }),
            $"still held after the cancel: {host.Admission.InFlight} admitted, engine {host.Model.Llm.Statistics}");
        Assert.Equal(0, PrometheusText.Value(await host.MetricsAsync(), "regionchat_requests_active"));
        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(79) }, MaxTokens = 4 }, deadline: Calls.Deadline());
        Assert.Equal("tiny", caption.Model);
    }

    [Fact]
    public async Task AnOpenStreamWithNoItemInFlightIsNotCountedAsAnActiveRequest()
    {
        await using var host = await ServerHost.StartAsync();
        using var call = host.Client.CaptionStream(deadline: Calls.Deadline());
        await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest
        {
            Id = "one",
            Request = new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(81) }, MaxTokens = 4 },
        });
        Assert.True(await call.ResponseStream.MoveNext());
        // The stream stays open with nothing in flight: the queue depth autoscalers read (KEDA) is 0, not 1 per stream.
        Assert.Equal(0, PrometheusText.Value(await host.MetricsAsync(), "regionchat_requests_active") ?? 0);
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }
}
