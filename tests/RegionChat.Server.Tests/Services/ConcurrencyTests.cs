using System.Diagnostics;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Concurrent requests: answers do not mix, a full queue refuses at once, nothing hangs.</summary>
public class ConcurrencyTests
{
    static PbV1.ChatRequest Request(int i) =>
        Calls.Chat("what is in this region?", TestImages.Scene(100 + i), Calls.Box(i * 3 % 40, i * 5 % 40, i * 3 % 40 + 24, i * 5 % 40 + 24), maxTokens: 10);

    [Fact]
    public async Task SixteenConcurrentChatsEachAnswerAsTheyDoAlone()
    {
        const int n = 16;
        var alone = new ChatResult[n];
        await using (var host = await ServerHost.StartAsync())
            for (int i = 0; i < n; i++) alone[i] = await host.Client.ChatAsync(Request(i));
        Assert.True(alone.Select(a => a.Text).Distinct().Count() >= n / 2, "too few distinct answers to tell requests apart");

        // A fresh server, so the images are decoded and encoded (batched) again under concurrency, not taken from caches.
        await using var busy = await ServerHost.StartAsync();
        var together = await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => busy.Client.ChatAsync(Request(i)))));
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(alone[i].Text, together[i].Text);
            Assert.Equal(alone[i].Finished.Reason, together[i].Finished.Reason);
            Assert.Equal(alone[i].Finished.Usage.CompletionTokens, together[i].Finished.Usage.CompletionTokens);
            Assert.Equal(alone[i].Started.PromptTokens, together[i].Started.PromptTokens);
            Assert.False(together[i].Finished.Timings.VisualCacheHit);
        }
        Assert.Equal(n, together.Select(t => t.Started.SessionId).Distinct().Count());
        var batcher = Assert.IsType<RegionChat.Inference.VisionBatcher>(busy.Services.GetService(typeof(RegionChat.Inference.VisionBatcher)));
        Assert.Equal(n, (int)Interlocked.Read(ref batcher.Items));
        Assert.InRange(batcher.LargestBatch, 1, RegionChat.Inference.VisionBatcher.DefaultMaxBatch);
        Assert.Equal(0, busy.Admission.InFlight);
    }

    [Fact]
    public async Task VisionMaxBatchCapsEveryForwardAndAnswersStayTheSame()
    {
        const int n = 12;
        var answers = new string[2][];
        for (int run = 0; run < 2; run++)
        {
            // One image per forward, then up to six: the same answers, and no forward above its cap.
            int cap = run == 0 ? 1 : 6;
            await using var host = await ServerHost.StartAsync(("VisionMaxBatch", cap.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var results = await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => host.Client.ChatAsync(Request(i)))));
            answers[run] = results.Select(r => r.Text).ToArray();
            var batcher = Assert.IsType<RegionChat.Inference.VisionBatcher>(host.Services.GetService(typeof(RegionChat.Inference.VisionBatcher)));
            Assert.Equal(cap, batcher.MaxBatch);
            Assert.Equal(n, (int)Interlocked.Read(ref batcher.Items));
            Assert.InRange(batcher.LargestBatch, 1, cap);
            if (cap == 1) Assert.Equal(n, (int)Interlocked.Read(ref batcher.Batches));
        }
        Assert.Equal(answers[0], answers[1]);
    }

    [Fact]
    public async Task AFullQueueRefusesAtOnceAndServesAgainAfterwards()
    {
        await using var host = await ServerHost.StartAsync(("QueueSize", "2"), ("ParallelSequences", "1"));
        // Two long turns fill the queue: one runs, the other waits for the only sequence.
        var (running, _) = await host.Client.StartChatAsync(Calls.LongChat(1000));
        var waiting = host.Client.Chat(Calls.LongChat(50), deadline: Calls.Deadline());
        var waitingStarted = waiting.ResponseStream.MoveNext();
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 2), "the second request was not admitted");

        // Everything that needs a slot is refused at once; nothing waits.
        var clock = Stopwatch.StartNew();
        var refusals = await Task.WhenAll(
            Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", TestImages.Scene(1)), deadline: Calls.Deadline(TimeSpan.FromSeconds(10))))),
            Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi"), deadline: Calls.Deadline(TimeSpan.FromSeconds(10))))),
            Calls.FailsAsync(() => host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(2) } },
                deadline: Calls.Deadline(TimeSpan.FromSeconds(10))).ResponseAsync));
        Assert.All(refusals, e =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.Contains("retry", e.Status.Detail);
        });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"refusing took {clock.Elapsed.TotalSeconds:F1} s");

        // A CaptionStream item that finds the queue full fails alone, with the same status.
        using (var stream = host.Client.CaptionStream(deadline: Calls.Deadline(TimeSpan.FromSeconds(10))))
        {
            await stream.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest { Id = "x", Request = new() { Image = new() { Data = TestImages.SceneBytes(4) } } });
            await stream.RequestStream.CompleteAsync();
            Assert.True(await stream.ResponseStream.MoveNext());
            Assert.Equal((int)StatusCode.ResourceExhausted, stream.ResponseStream.Current.Error.Code);
        }
        // Calls that need no slot still work: listing models, and storing the images of requests to come.
        Assert.Single((await host.Client.ListModelsAsync(new(), deadline: Calls.Deadline())).Models);
        var stored = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = TestImages.SceneBytes(3) }, deadline: Calls.Deadline());
        Assert.StartsWith("sha256:", stored.ImageId);

        // Both admitted turns complete normally (bounded by their deadlines), then requests are served again.
        var first = await Calls.FinishAsync(running);
        Assert.Equal(PbV1.FinishReason.Length, first.Finished.Reason);
        Assert.True(await waitingStarted);
        var second = await Calls.FinishAsync(waiting);
        Assert.Equal(PbV1.FinishReason.Length, second.Finished.Reason);
        Assert.True(second.Finished.Timings.QueueMs > 0);
        running.Dispose();
        waiting.Dispose();

        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
        var after = await host.Client.ChatAsync(Calls.Chat("hi again", TestImages.Scene(5)));
        Assert.Equal(16u, after.Started.VisualTokens);
    }
}
