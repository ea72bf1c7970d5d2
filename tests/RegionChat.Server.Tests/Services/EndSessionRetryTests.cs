using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>EndSession is retried by clients when its answer was lost (UNAVAILABLE before any answer): a retried attempt
/// (grpc-previous-rpc-attempts > 0) that finds the session gone answers OK, since the lost attempt may have ended it.</summary>
public class EndSessionRetryTests
{
    [Fact]
    public async Task ARetriedEndOfAGoneSessionIsOkAndAFirstOneNotFound()
    {
        await using var host = await ServerHost.StartAsync();
        var started = (await host.Client.ChatAsync(Calls.Chat("hi", TestImages.Scene(97), maxTokens: 2))).Started;
        var end = new PbV1.EndSessionRequest { SessionId = started.SessionId };
        await host.Client.EndSessionAsync(end, deadline: Calls.Deadline());

        // The same end again, as the retry of an attempt whose answer was lost: OK.
        await host.Client.EndSessionAsync(end, new Metadata { { "grpc-previous-rpc-attempts", "1" } }, Calls.Deadline());
        // As a first attempt: the session is gone.
        var first = await Calls.FailsAsync(() => host.Client.EndSessionAsync(end, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, first.StatusCode);
        var zero = await Calls.FailsAsync(() => host.Client.EndSessionAsync(end, new Metadata { { "grpc-previous-rpc-attempts", "0" } },
            Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, zero.StatusCode);
    }
}
