using Google.Protobuf;
using Grpc.Core;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Classify metrics on /metrics (issue 18): classifications by outcome, regions, labels, text-cache hits and
/// the duration histogram move with the calls.</summary>
public class ClassifyMetricsTests
{
    [Fact]
    public async Task ClassificationsRegionsLabelsCacheHitsAndDurationMove()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        using var temp = new TempDir();
        ShapesGenerator.Generate(ShapesSeeds.TestStart + 31).SavePng(temp.File("x.png"));
        var request = new PbV1.ClassifyRequest { Image = new() { Data = ByteString.CopyFrom(File.ReadAllBytes(temp.File("x.png"))) } };
        request.Regions.Add(Calls.Box(0, 0, 32, 32));
        request.Regions.Add(Calls.Box(16, 16, 64, 64));
        request.Labels.AddRange(["a large red circle", "a small blue cross", "a large green square"]);
        double V(string text, string name, params (string, string)[] labels) => PrometheusText.Value(text, name, labels) ?? 0;
        string before = await host.MetricsAsync();

        await host.Client.ClassifyAsync(request, deadline: Calls.Deadline());
        var second = await host.Client.ClassifyAsync(request, deadline: Calls.Deadline());
        Assert.Equal(3u, second.Timings.TextCacheHits);
        var bad = request.Clone();
        bad.Labels[1] = "";
        var e = await Assert.ThrowsAsync<RpcException>(() => host.Client.ClassifyAsync(bad, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        string after = await host.MetricsAsync();
        double Delta(string name, params (string, string)[] labels) => V(after, name, labels) - V(before, name, labels);
        Assert.Equal(2, Delta("regionchat_classify_requests_total", ("outcome", "ok")));
        Assert.Equal(1, Delta("regionchat_classify_requests_total", ("outcome", "error")));
        Assert.Equal(4, Delta("regionchat_classify_regions_total"));
        Assert.Equal(6, Delta("regionchat_classify_labels_total"));
        Assert.Equal(3, Delta("regionchat_classify_text_cache_hits_total"));
        Assert.Equal(2, Delta("regionchat_classify_duration_milliseconds_count"));
        Assert.Equal(2, Delta("regionchat_classify_duration_milliseconds_bucket", ("le", "+Inf")));
        Assert.Contains("# TYPE regionchat_classify_duration_milliseconds histogram", after);
        Assert.Equal(2, Delta("regionchat_requests_total", ("method", "Classify"), ("status", "OK")));
    }
}
