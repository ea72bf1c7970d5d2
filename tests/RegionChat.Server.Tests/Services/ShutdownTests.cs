using Grpc.Core;
using Grpc.Net.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Graceful shutdown: running streams end with a CANCELLED final event, waiting and new calls are UNAVAILABLE.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task StoppingEndsRunningStreamsWithCancelledAndRefusesTheRest()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"));
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
}
