using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>/metrics (Prometheus text over h2c) moves with the traffic.</summary>
public class MetricsTests
{
    [Fact]
    public async Task CountersTokensCacheHitsAndTimeToFirstTokenMove()
    {
        await using var host = await ServerHost.StartAsync();
        string before = await host.MetricsAsync();
        double V(string text, string name, params (string, string)[] labels) => PrometheusText.Value(text, name, labels) ?? 0;

        var image = TestImages.Scene(71);
        var a = await host.Client.ChatAsync(Calls.Chat("what is it?", image, Calls.Box(0, 0, 30, 30)));
        var b = await host.Client.ChatAsync(Calls.Chat("what is it?", image, Calls.Box(0, 0, 30, 30)));
        var c = await host.Client.ChatAsync(Calls.Chat("and now?", sessionId: a.Started.SessionId));
        var bad = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", sessionId: "s-unknown"), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, bad.StatusCode);
        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = Google.Protobuf.ByteString.CopyFrom(image) }, Region = Calls.Box(0, 0, 30, 30), MaxTokens = 3 }, deadline: Calls.Deadline());

        var results = new[] { a, b, c };
        string after = await host.MetricsAsync();
        Assert.Equal(3, V(after, "regionchat_requests_total", ("method", "Chat"), ("status", "OK")) - V(before, "regionchat_requests_total", ("method", "Chat"), ("status", "OK")));
        Assert.Equal(1, V(after, "regionchat_requests_total", ("method", "Chat"), ("status", "NotFound")));
        Assert.Equal(1, V(after, "regionchat_requests_total", ("method", "Caption"), ("status", "OK")));
        Assert.Equal(results.Sum(r => (double)r.Finished.Usage.CompletionTokens) + caption.Usage.CompletionTokens,
            V(after, "regionchat_tokens_completion_total") - V(before, "regionchat_tokens_completion_total"));
        Assert.Equal(results.Sum(r => (double)r.Finished.Usage.PromptTokens) + caption.Usage.PromptTokens,
            V(after, "regionchat_tokens_prompt_total") - V(before, "regionchat_tokens_prompt_total"));
        Assert.Equal(c.Finished.Usage.CachedTokens, V(after, "regionchat_tokens_cached_total") - V(before, "regionchat_tokens_cached_total"));
        Assert.Equal(2, V(after, "regionchat_visual_cache_hits_total") - V(before, "regionchat_visual_cache_hits_total")); // b and the caption
        Assert.Equal(1, V(after, "regionchat_visual_cache_misses_total") - V(before, "regionchat_visual_cache_misses_total"));
        int withText = results.Count(r => r.Text.Length > 0);
        Assert.True(V(after, "regionchat_time_to_first_token_milliseconds_count") - V(before, "regionchat_time_to_first_token_milliseconds_count") >= withText);
        Assert.True(V(after, "regionchat_time_to_first_token_milliseconds_bucket", ("le", "+Inf")) >= withText);
        // Buckets past OpenTelemetry's default 10 s: a CPU 7B model's first tokens must not all land in +Inf.
        Assert.True(V(after, "regionchat_time_to_first_token_milliseconds_bucket", ("le", "120000")) >= withText);
        Assert.Equal(0, V(after, "regionchat_requests_active"));
        Assert.Contains("# TYPE regionchat_time_to_first_token_milliseconds histogram", after);
    }

    [Fact]
    public async Task EveryScrapeIsCurrent()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = new HttpClient { BaseAddress = host.HttpAddress, Timeout = Calls.DefaultTimeout };
        // Scrapes right after one another, each after a call: each must count its call (the exporter cached 300 ms).
        for (int i = 1; i <= 3; i++)
        {
            await host.Client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
            string text = await http.GetStringAsync("/metrics");
            Assert.Equal(i, PrometheusText.Value(text, "regionchat_requests_total", ("method", "ListModels"), ("status", "OK")));
        }
    }

}
