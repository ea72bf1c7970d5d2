using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RegionChat.Server.Tests.OpenAi;

namespace RegionChat.Server.Tests;

/// <summary>The HTTP/1.1 listener beside the h2c one: /metrics over plain HTTP/1.1, and the --urls alias.</summary>
public class HttpListenerTests
{
    [Fact]
    public async Task KestrelLimitsFromConfigurationApplyAndWinOverRegionChatsOwn()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:RequestHeadersTimeoutSeconds"] = "7",
            ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:03",
            ["Kestrel:Limits:MaxRequestHeaderCount"] = "6",
            ["Kestrel:Limits:Http2:MaxStreamsPerConnection"] = "17",
            ["Kestrel:Limits:MinRequestBodyDataRate:BytesPerSecond"] = "500",
            ["Kestrel:Limits:MinRequestBodyDataRate:GracePeriod"] = "00:00:04",
            ["Kestrel:Limits:MinResponseDataRate:BytesPerSecond"] = "0",
        });
        var limits = host.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        Assert.Equal(TimeSpan.FromSeconds(3), limits.RequestHeadersTimeout);
        Assert.Equal(17, limits.Http2.MaxStreamsPerConnection);
        Assert.Equal(500, limits.MinRequestBodyDataRate!.BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(4), limits.MinRequestBodyDataRate.GracePeriod);
        Assert.Null(limits.MinResponseDataRate);   // 0 = no minimum (Kestrel's default is 240 B/s)

        // And Kestrel enforces them: more headers than allowed is 431.
        using var http = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(20) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        for (int i = 0; i < 8; i++) request.Headers.Add($"X-Extra-{i}", "1");
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, (await http.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task MaxConnectionsClosesConnectionsBeyondTheLimitAndServesAgainOnceOneCloses()
    {
        await using var host = await ServerHost.StartAsync(("MaxConnections", "2"));
        var held = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(host.HttpAddress.Host, host.HttpAddress.Port);
                held.Add(tcp);
                // Answered, so Kestrel has taken and counted it (a connect alone completes in the kernel's backlog, and
                // a third could be counted first); kept alive afterwards.
                var stream = tcp.GetStream();
                await stream.WriteAsync("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
                var answer = new byte[12];
                await stream.ReadExactlyAsync(answer);
                Assert.Equal("HTTP/1.1 200", System.Text.Encoding.ASCII.GetString(answer));
            }
            // The third is accepted by the socket and closed by Kestrel without an answer.
            using (var http = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(20) })
                await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/health"));
            held[0].Dispose();
            held.RemoveAt(0);
            using var again = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(20) };
            HttpStatusCode? status = null;
            for (int attempt = 0; attempt < 50 && status == null; attempt++)
            {
                try { status = (await again.GetAsync("/health")).StatusCode; }
                catch (HttpRequestException) { await Task.Delay(100); }   // the closed slot is freed a moment later
            }
            Assert.Equal(HttpStatusCode.OK, status);
        }
        finally
        {
            foreach (var tcp in held) tcp.Dispose();
        }
    }

    [Fact]
    public async Task MetricsAreServedOverPlainHttp11AndMoveWithOpenAiTraffic()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        using (var response = await http.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpVersion.Version11, response.Version);
        }
        string before = await host.MetricsAsync();
        double V(string text, string name, params (string, string)[] labels) => PrometheusText.Value(text, name, labels) ?? 0;

        var ok = await OpenAiHttp.CompleteAsync(http, OpenAiHttp.Body(5, OpenAiHttp.UserWithImage("what?", TestImages.Scene(341))));
        var again = await OpenAiHttp.CompleteAsync(http, OpenAiHttp.Body(5, OpenAiHttp.UserWithImage("what?", TestImages.Scene(341))));
        await OpenAiHttp.FailsAsync(http, OpenAiHttp.Body(5, OpenAiHttp.Message("assistant", "no user")));

        string after = await host.MetricsAsync();
        const string method = "POST /v1/chat/completions";
        Assert.Equal(2, V(after, "regionchat_requests_total", ("method", method), ("status", "200")) - V(before, "regionchat_requests_total", ("method", method), ("status", "200")));
        Assert.Equal(1, V(after, "regionchat_requests_total", ("method", method), ("status", "400")) - V(before, "regionchat_requests_total", ("method", method), ("status", "400")));
        int completion = (int)ok["usage"]!["completion_tokens"]! + (int)again["usage"]!["completion_tokens"]!;
        Assert.Equal(completion, V(after, "regionchat_tokens_completion_total") - V(before, "regionchat_tokens_completion_total"));
        Assert.Equal(1, V(after, "regionchat_visual_cache_hits_total") - V(before, "regionchat_visual_cache_hits_total"));
        Assert.Equal(1, V(after, "regionchat_visual_cache_misses_total") - V(before, "regionchat_visual_cache_misses_total"));

        // The h2c listener still serves /metrics to HTTP/2 clients.
        using var h2 = new HttpClient { BaseAddress = host.Address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        Assert.Contains("regionchat_requests_total", await h2.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task UrlsSetsTheGrpcListenerAsBefore()
    {
        // --urls (here as configuration, as the command line gives it) replaces RegionChat:GrpcUrl.
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["RegionChat:GrpcUrl"] = "http://127.0.0.1:1",
        });
        Assert.NotEqual(1, host.Address.Port);
        Assert.NotEqual(host.HttpAddress.Port, host.Address.Port);
        var models = await host.Client.ListModelsAsync(new RegionChat.Protos.V1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Single(models.Models);
        // Plain HTTP/1.1 is not spoken on the h2c listener.
        using var http11 = new HttpClient { BaseAddress = host.Address, DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http11.GetStringAsync("/metrics"));
    }
}
