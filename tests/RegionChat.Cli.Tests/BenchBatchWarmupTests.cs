using System.Text.Json.Nodes;

namespace RegionChat.Cli.Tests;

/// <summary>`bench batch --warmup N` answers N untimed items on each route that runs before the timed legs.</summary>
public sealed class BenchBatchWarmupTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    [Theory]
    [InlineData("both", 12)]
    [InlineData("stream", 6)]
    public async Task WarmupItemsAreAnsweredAndLeftOutOfTheTimedItems(string route, int answered)
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--server", fx.Url, "--route", route, "--items", "8", "--concurrency", "4",
            "--max-tokens", "2", "--warmup", "6", "--json");
        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Err}");
        Assert.Contains($"warm-up: 6 untimed items per route ({answered} answered in all) in ", run.Out);
        Assert.Contains("8 items per route after 6 untimed", run.Out);
        // The items table comes before the timings table, which has a row of the same name.
        string row = run.Out.Split('\n').First(l => l.StartsWith("CaptionStream x4 ", StringComparison.Ordinal));
        Assert.Equal("8", row["CaptionStream x4".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
        Assert.Equal(6, (int)JsonNode.Parse(run.Out.TrimEnd().Split('\n')[^1])!["warmup"]!);
    }

    [Fact]
    public async Task ANegativeWarmupIsRefused()
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--server", fx.Url, "--warmup", "-1", "--items", "8");
        Assert.NotEqual(0, run.Exit);
        Assert.Contains("--warmup must be in [0, 100000], got -1", run.Err);
    }
}
