using System.Text.Json.Nodes;

namespace RegionChat.Cli.Tests;

/// <summary>`bench batch --route` runs one route alone (for profiling it) against the real server, and says so in its
/// table and JSON.</summary>
public sealed class BenchBatchRouteTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    [Theory]
    [InlineData("stream", "unary")]
    [InlineData("unary", "stream")]
    public async Task OneRouteRunsAloneAndTheComparisonIsAbsent(string route, string other)
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--server", fx.Url, "--route", route, "--items", "8", "--concurrency", "4",
            "--max-tokens", "2", "--json");
        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Err}");

        var json = JsonNode.Parse(run.Out.TrimEnd().Split('\n')[^1])!;
        Assert.Equal(route, (string?)json["route"]);
        Assert.True((double)json[$"{route}_items_per_second"]! > 0);
        Assert.Null(json[$"{other}_items_per_second"]);
        Assert.Null(json[$"{other}_timings_ms_median"]);
        Assert.Null(json["ratio"]);
        Assert.DoesNotContain("CaptionStream / unary", run.Out);
        Assert.Equal(route == "stream", run.Out.Contains("CaptionStream x4 "));
        Assert.Equal(route == "unary", run.Out.Contains("unary, one by one"));
    }

    [Fact]
    public async Task AnUnknownRouteIsRefused()
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--server", fx.Url, "--route", "sideways", "--items", "8");
        Assert.NotEqual(0, run.Exit);
        Assert.Contains("sideways", run.Err);
    }
}
