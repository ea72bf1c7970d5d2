using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`bench soak --json` on a tiny model: every caption and chat is answered and the RSS curve has a sample at
/// every step, with the cache bounds set for the run in force (issue 16's soak, scaled down: the plateau itself is a
/// benchmark figure, not a test).</summary>
public sealed class BenchSoakTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task TheCurveHasASampleAtEveryStepAndTheRatioIsReported()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "soak", "tiny"));
        var run = await CliRunner.RunAsync("bench", "soak", "--model", model, "--captions", "60", "--sample-every", "20", "--chat-every", "25",
            "--concurrency", "4", "--threads", "1", "--visual-cache-mb", "3", "--image-store-mb", "5", "--json");
        Assert.True(run.Exit == 0, run.Err);
        using var doc = JsonDocument.Parse(run.Out.TrimEnd().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal(2, r.GetProperty("chats").GetInt32());
        var curve = r.GetProperty("curve").EnumerateArray().ToList();
        Assert.Equal([0, 20, 40, 60], curve.Select(s => s.GetProperty("captions").GetDouble()));
        Assert.All(curve, s => Assert.True(s.GetProperty("rss_mb").GetDouble() > 10, s.ToString()));
        Assert.Equal(20, r.GetProperty("quarter_captions").GetInt32());
        Assert.Equal(3, r.GetProperty("visual_cache_mb").GetInt64());   // the bounds set for the run are the ones in force
        Assert.Equal(5, r.GetProperty("image_store_mb").GetInt64());
        Assert.Equal(64, r.GetProperty("tower_pixel_cache_mb").GetInt64());   // the server's default
        Assert.Equal(3 + 64 + 5 + r.GetProperty("session_store_mb").GetInt64(), r.GetProperty("cache_bounds_mb").GetInt64());
        Assert.True(r.GetProperty("ratio").GetDouble() is var ratio && double.IsFinite(ratio) && ratio > 0, $"ratio {r.GetProperty("ratio")}");
    }

    [Fact]
    public async Task ABadRepeatShareIsRefusedByName()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "bad", "tiny"));
        var run = await CliRunner.RunAsync("bench", "soak", "--model", model, "--repeat", "1.5");
        Assert.Equal(2, run.Exit);
        Assert.Contains("--repeat must be in [0, 1], got 1.5", run.Err);
    }
}
