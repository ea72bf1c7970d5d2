using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RegionChat.Server.Tests.OpenAi;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// Slow uploads hold sockets, never queue slots: /v1 admits a request only once its body is read, and Kestrel's minimum
/// body data rate and header timeout are settings. 64 connections trickling 300 B/s held all 64 slots and every API
/// answered RESOURCE_EXHAUSTED / 429.
/// </summary>
public class SlowUploadTests
{
    const int QueueSize = 4;

    /// <summary>A /v1 request whose body never completes: its headers (Expect: 100-continue), then a few bytes once the
    /// endpoint has started reading the body (the server's "100 Continue" says so).</summary>
    static async Task<TcpClient> SlowBodyAsync(Uri address)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        string head = "POST /v1/chat/completions HTTP/1.1\r\n" + $"Host: {address.Authority}\r\n" +
            "Content-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        string status = await ReadLineAsync(stream);
        Assert.True(status.StartsWith("HTTP/1.1 100", StringComparison.Ordinal), $"expected 100 Continue, got '{status}'");
        Assert.Equal("", await ReadLineAsync(stream));
        await stream.WriteAsync("{\"model\": \"tiny\", "u8.ToArray());
        return tcp;
    }

    static async Task<string> ReadLineAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(Calls.DefaultTimeout);
        var line = new StringBuilder();
        var one = new byte[1];
        while (await stream.ReadAsync(one, cts.Token) == 1 && one[0] != '\n')
            if (one[0] != '\r') line.Append((char)one[0]);
        return line.ToString();
    }

    [Fact]
    public async Task SlowBodiesAsManyAsTheQueueHoldsLeaveEveryApiServing()
    {
        await using var host = await ServerHost.StartAsync(("QueueSize", QueueSize.ToString()));
        var slow = new List<TcpClient>();
        try
        {
            for (int i = 0; i < QueueSize; i++) slow.Add(await SlowBodyAsync(host.HttpAddress));
            var chat = await host.Client.ChatAsync(Calls.Chat("what is it?", TestImages.Scene(81), Calls.Box(0, 0, 32, 32)));
            Assert.NotEqual(RegionChat.Protos.V1.FinishReason.Cancelled, chat.Finished.Reason);
            using var http = OpenAiHttp.Http(host);
            var completion = await OpenAiHttp.CompleteAsync(http, OpenAiHttp.Body(2, OpenAiHttp.Message("user", "hi")));
            Assert.Equal("chat.completion", (string?)completion["object"]);
            // Every slow request is inside the endpoint, reading its body, and none holds a slot.
            Assert.Equal(0, host.Admission.InFlight);
        }
        finally
        {
            foreach (var tcp in slow) tcp.Dispose();
        }
    }

    [Fact]
    public async Task TheBodyDataRateAndHeaderTimeoutAreSettingsAndASlowBodyIsCutOff()
    {
        await using var host = await ServerHost.StartAsync(
            ("MinRequestBodyBytesPerSecond", "2000"), ("RequestBodyGraceSeconds", "2"), ("RequestHeadersTimeoutSeconds", "7"));
        var limits = host.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        Assert.Equal(2000, limits.MinRequestBodyDataRate!.BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(2), limits.MinRequestBodyDataRate.GracePeriod);
        Assert.Equal(TimeSpan.FromSeconds(7), limits.RequestHeadersTimeout);

        // A body that stops arriving is ended by the server (408 or a closed connection), whatever the client does.
        using var tcp = await SlowBodyAsync(host.HttpAddress);
        string status;
        try { status = await ReadLineAsync(tcp.GetStream()); }
        catch (IOException) { status = ""; } // reset
        Assert.True(status.Length == 0 || status.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"got '{status}'");
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }
}
