using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using RegionChat.Server.TestHost;

namespace RegionChat.Client.Tests;

/// <summary>StoreImageAsync: each image is uploaded once per client, and again after the server dropped it.</summary>
public partial class ImageStoreTests
{
    [GeneratedRegex("""^regionchat_requests_total\{(?<labels>[^}]*)\}\s+(?<value>\S+)""", RegexOptions.Multiline)]
    private static partial Regex RequestsTotal();

    /// <summary>The calls of <paramref name="method"/> the server has answered OK, from its /metrics.</summary>
    static async Task<double> CallsAsync(ServerHost host, string method) => RequestsTotal().Matches(await host.MetricsAsync())
        .Where(m => m.Groups["labels"].Value.Contains($"method=\"{method}\"") && m.Groups["labels"].Value.Contains("status=\"OK\""))
        .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [Fact]
    public async Task AnImageIsUploadedOncePerClientAndAgainWhenTheServerDroppedIt()
    {
        byte[] first = Scenes.Png(1_000_000_400), second = Scenes.Png(1_000_000_401);
        // Room for one of these images only (the store counts 256 bytes more per image): storing the second drops the first.
        await using var host = await ServerHost.StartAsync(("ImageStoreBytes", (first.Length + second.Length).ToString(CultureInfo.InvariantCulture)));
        using var client = new RegionChatClient(host.Address);

        var stored = await client.StoreImageAsync(first, ServerFixture.Timeout());
        Assert.Equal(RegionChatClient.ContentId(first), stored.ImageId);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.StoreImageAsync(first, ServerFixture.Timeout())));
        Assert.All(concurrent, s => Assert.Equal(stored.ImageId, s.ImageId));
        Assert.True(client.IsImageStored(stored.ImageId));
        Assert.Equal(1, await CallsAsync(host, "PutImage"));

        await client.StoreImageAsync(second, ServerFixture.Timeout());
        Assert.Equal(2, await CallsAsync(host, "PutImage"));
        var gone = await Assert.ThrowsAsync<RegionChatException>(() =>
            client.CaptionAsync(ChatImage.FromId(stored.ImageId), ImageRegion.Box(8, 8, 40, 40), cancellationToken: ServerFixture.Timeout()));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Contains(stored.ImageId, gone.Detail);
        Assert.False(client.IsImageStored(stored.ImageId));

        var again = await client.StoreImageAsync(first, ServerFixture.Timeout());
        Assert.Equal(3, await CallsAsync(host, "PutImage"));
        var caption = await client.CaptionAsync(again, ImageRegion.Box(8, 8, 40, 40),
            generation: new GenerationOptions { MaxTokens = 4 }, cancellationToken: ServerFixture.Timeout());
        Assert.Equal("tiny", caption.Model);
    }

    [Fact]
    public async Task ACallerWaitingOnAnotherCallersUploadStopsOnItsOwnTokenAndOutlivesTheOthersCancel()
    {
        byte[] image = Scenes.Png(1_000_000_402);
        string id = RegionChatClient.ContentId(image);
        await using var host = await ServerHost.StartAsync();
        using var client = new RegionChatClient(host.Address);
        var gate = new TaskCompletionSource();
        async Task<ReadOnlyMemory<byte>> SlowRead(CancellationToken ct)
        {
            await gate.Task.WaitAsync(ct);
            return image;
        }

        // A's upload waits on the gate; B and C join it.
        using var a = new CancellationTokenSource();
        using var c = new CancellationTokenSource();
        var first = client.StoreImageAsync(id, SlowRead, a.Token);
        var joined = client.StoreImageAsync(id, _ => Task.FromResult<ReadOnlyMemory<byte>>(image), ServerFixture.Timeout());
        var impatient = client.StoreImageAsync(id, _ => Task.FromResult<ReadOnlyMemory<byte>>(image), c.Token);
        Assert.False(joined.IsCompleted);

        // C's own token ends C's wait at once, though the upload it waits on goes on.
        await c.CancelAsync();
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient.WaitAsync(ServerFixture.Timeout()));
        Assert.Equal(c.Token, cancelled.CancellationToken);
        Assert.False(first.IsCompleted);

        // A leaves (a user who disconnected): B uploads the image itself instead of failing with A's cancel.
        await a.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Equal(id, (await joined).ImageId);
        Assert.True(client.IsImageStored(id));
        Assert.Equal(1, await CallsAsync(host, "PutImage"));
    }

    [Fact]
    public async Task ALargeImageGoesUpAsAStreamAndARefusalMidStreamReportsTheServersStatus()
    {
        var large = new byte[RegionChatClient.PutImageBytes + 4096];
        new Random(7).NextBytes(large);
        await using var host = await ServerHost.StartAsync(("MaxImageBytes", "16384"));
        using var client = new RegionChatClient(host.Address);
        // The server refuses the upload once it is over its limit, while the client is still writing.
        var e = await Assert.ThrowsAsync<RegionChatException>(() => client.StoreImageAsync(large, ServerFixture.Timeout()));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("UploadImage", e.Method);
        Assert.Contains("16384", e.Detail.Replace(",", ""));
        Assert.False(client.IsImageStored(RegionChatClient.ContentId(large)));
        Assert.Equal(0, await CallsAsync(host, "PutImage"));
    }
}
