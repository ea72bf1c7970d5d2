using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`bench slow-upload --json` on a tiny model: normal chats beside as many slow-body /v1 connections as the
/// queue holds are answered, not refused (issue 16.3's acceptance, scaled down).</summary>
public sealed class BenchSlowUploadTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task NoChatIsRefusedUnderSlowUploadsAndTheRatioIsReported()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "bench", "tiny"));
        var run = await CliRunner.RunAsync("bench", "slow-upload", "--model", model, "--connections", "4", "--rate", "50", "--chats", "2",
            "--rounds", "1", "--max-tokens", "4", "--threads", "1", "--json");
        Assert.True(run.Exit == 0, run.Err);
        using var doc = JsonDocument.Parse(run.Out.TrimEnd().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal(0, r.GetProperty("loaded_refused").GetInt32());
        Assert.Equal(0, r.GetProperty("unloaded_refused").GetInt32());
        foreach (var key in new[] { "unloaded_chat_ms_median", "loaded_chat_ms_median", "ratio" })
            Assert.True(r.GetProperty(key).GetDouble() is var v && double.IsFinite(v) && v > 0, $"{key} is {r.GetProperty(key)}");
    }
}
