using Grpc.Core;
using Grpc.Net.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Graceful shutdown: new calls are UNAVAILABLE at once, admitted ones may finish within the drain
/// (RegionChat:ShutdownDrainSeconds), and those left then end with a CANCELLED final event.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task StoppingWithoutADrainEndsRunningStreamsWithCancelledAndRefusesTheRest()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"), ("ShutdownDrainSeconds", "0"));
        var (running, _) = await host.Client.StartChatAsync(Calls.LongChat());
        Assert.True(await running.ResponseStream.MoveNext()); // generating
        // A second turn waits for the only sequence.
        var waiting = host.Client.Chat(Calls.Chat("wait for me", TestImages.Scene(91)), deadline: Calls.Deadline());
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics.QueuedRequests == 1), "the second turn is not waiting in the engine");

        // A call made once shutdown has begun (the server may or may not still be listening by then).
        Task<RpcException>? during = null;
        host.Shutdown.Token.Register(() => during = Task.Run(() =>
            Calls.FailsAsync(() => host.Client.ListModelsAsync(new(), deadline: Calls.Deadline(TimeSpan.FromSeconds(10))).ResponseAsync)));

        var stopping = host.StopAsync();

        var (_, finished) = await Calls.FinishAsync(running);
        Assert.Equal(PbV1.FinishReason.Cancelled, finished.Reason);
        Assert.True(finished.Usage.CompletionTokens > 0);
        Assert.True(finished.Usage.CompletionTokens < 3000);
        running.Dispose();

        var refused = await Calls.FailsAsync(() => Calls.DrainAsync(waiting));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("shutting down", refused.Status.Detail);

        Assert.NotNull(during);
        // Refused by the server (UNAVAILABLE), or cut by the closing connection before any handler saw it: the client
        // then reports the transport error, which gRPC maps to UNAVAILABLE or (a stream reset) INTERNAL. Never an
        // answer, and never an INTERNAL that the server itself sent (that would carry no transport exception).
        var duringError = await during;
        bool cutByTransport = duringError.Status.DebugException is HttpRequestException or IOException or HttpProtocolException;
        Assert.True(duringError.StatusCode == StatusCode.Unavailable || cutByTransport,
            $"a call during shutdown got {duringError.Status} ({duringError.Status.DebugException})");

        // The stop completes (nothing hangs) and afterwards nobody is listening.
        Assert.True(await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(30))) == stopping, "StopAsync did not finish within 30 s");
        await stopping;
        using var channel = GrpcChannel.ForAddress(host.Address);
        var after = await Calls.FailsAsync(() => new PbV1.RegionChat.RegionChatClient(channel).ListModelsAsync(new(), deadline: Calls.Deadline(TimeSpan.FromSeconds(10))).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, after.StatusCode);
    }

    [Fact]
    public async Task CallsArrivingWhileShuttingDownAreUnavailable()
    {
        await using var host = await ServerHost.StartAsync();
        // The window between the stop signal and the listener closing, held open: every kind of call is refused.
        host.Shutdown.Trigger();
        var calls = new Func<Task>[]
        {
            () => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", TestImages.Scene(92)), deadline: Calls.Deadline())),
            () => host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(92) } }, deadline: Calls.Deadline()).ResponseAsync,
            () => host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = TestImages.SceneBytes(92) }, deadline: Calls.Deadline()).ResponseAsync,
            () => host.Client.ListModelsAsync(new(), deadline: Calls.Deadline()).ResponseAsync,
            async () =>
            {
                using var call = host.Client.CaptionStream(deadline: Calls.Deadline());
                await call.RequestStream.CompleteAsync();
                await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
            },
        };
        foreach (var call in calls)
        {
            var e = await Calls.FailsAsync(call);
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Contains("shutting down", e.Status.Detail);
        }
    }

    [Fact]
    public async Task ADrainLetsAdmittedTurnsFinishWhileNewCallsAreRefusedAndReadinessFails()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"));
        var (running, _) = await host.Client.StartChatAsync(Calls.LongChat(1500));
        Assert.True(await running.ResponseStream.MoveNext());
        var waiting = host.Client.Chat(Calls.Chat("wait for me", TestImages.Scene(93)), deadline: Calls.Deadline());
        Assert.True(await Calls.EventuallyAsync(() => host.Model.Llm.Statistics.QueuedRequests == 1), "the second turn is not waiting in the engine");

        // The core's drain with the listeners still up, so the refusals are the server's own.
        var drain = host.Core.DrainAsync(TimeSpan.FromSeconds(60));
        var refused = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("too late", TestImages.Scene(94)), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("shutting down", refused.Status.Detail);
        using (var http = new HttpClient { BaseAddress = host.HttpAddress })
        using (var ready = await http.GetAsync("/health/ready"))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            using var live = await http.GetAsync("/health");
            Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode); // draining is not dead: no restart
        }

        var (_, finished) = await Calls.FinishAsync(running);
        Assert.Equal(PbV1.FinishReason.Length, finished.Reason);
        Assert.Equal(1500u, finished.Usage.CompletionTokens);
        Assert.True(await waiting.ResponseStream.MoveNext()); // its Started, sent once it runs
        var (_, waited) = await Calls.FinishAsync(waiting);
        Assert.NotEqual(PbV1.FinishReason.Cancelled, waited.Reason);
        Assert.True(waited.Usage.CompletionTokens > 0);
        Assert.Equal(0, await drain.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task StoppingDrainsRunningStreamsAndThenStops()
    {
        await using var host = await ServerHost.StartAsync(("ShutdownDrainSeconds", "60"));
        var (running, _) = await host.Client.StartChatAsync(Calls.LongChat(1500));
        Assert.True(await running.ResponseStream.MoveNext());

        var stopping = host.StopAsync();
        var (_, finished) = await Calls.FinishAsync(running);
        Assert.Equal(PbV1.FinishReason.Length, finished.Reason);
        Assert.Equal(1500u, finished.Usage.CompletionTokens);
        running.Dispose();
        Assert.True(await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(30))) == stopping, "StopAsync did not finish within 30 s");
        await stopping;
    }

    [Fact]
    public async Task ADrainPastItsLimitEndsTheRestWithCancelled()
    {
        await using var host = await ServerHost.StartAsync(("ShutdownDrainSeconds", "0.3"));
        var (running, _) = await host.Client.StartChatAsync(Calls.LongChat());
        Assert.True(await running.ResponseStream.MoveNext());

        var stopping = host.StopAsync();
        var (_, finished) = await Calls.FinishAsync(running);
        Assert.Equal(PbV1.FinishReason.Cancelled, finished.Reason);
        Assert.True(finished.Usage.CompletionTokens is > 0 and < 3000);
        running.Dispose();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AnOpenItemStreamEndsWithUnavailableWhenTheDrainEnds()
    {
        await using var host = await ServerHost.StartAsync();
        using var call = host.Client.CaptionStream(deadline: Calls.Deadline());
        await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest
        {
            Id = "a",
            Request = new PbV1.CaptionRequest { Image = new() { Data = TestImages.SceneBytes(95) }, MaxTokens = 4 },
        });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("a", call.ResponseStream.Current.Id);

        // Nothing in flight: the drain ends at once, and the stream, still open for items, is ended by the server.
        Assert.Equal(0, await host.Core.DrainAsync(TimeSpan.FromSeconds(30)).WaitAsync(TimeSpan.FromSeconds(30)));
        var ended = await Calls.FailsAsync(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        Assert.Contains("shutting down", ended.Status.Detail);
    }
}
