using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`bench peer --synth --tiny --json`: both paths (llama.cpp's mtmd and RegionChat's core) ran and reported.</summary>
public sealed class BenchPeerCommandTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [SkippableFact]
    public async Task BenchPeerJsonHasBothSidesFiguresAndTheirRatios()
    {
        var run = await CliRunner.RunAsync("bench", "peer", "--synth", "--tiny", "--synth-dir", Path.Combine(temp.Path, "synth"),
            "--runs", "3", "--threads", "1", "--json");
        Skip.If(run.Exit == 3 && run.Err.Contains("the peer cannot run here", StringComparison.Ordinal),
            $"llama.cpp's libmtmd cannot run on this machine: {run.Err}");
        Assert.True(run.Exit == 0, run.Err + run.Out);
        using var doc = JsonDocument.Parse(run.Out.TrimEnd().Split('\n')[^1]);
        var r = doc.RootElement;
        foreach (var key in new[] { "peer_encode_ms", "peer_ttft_ms", "regionchat_encode_ms", "regionchat_ttft_ms",
                     "encode_ratio_median", "encode_ratio_min", "ttft_ratio_median", "ttft_ratio_min" })
            Assert.True(r.GetProperty(key).GetDouble() is var v && double.IsFinite(v) && v > 0, $"{key} is {r.GetProperty(key)}");
        Assert.Equal(16, r.GetProperty("visual_tokens").GetInt32());
        Assert.Equal(3, r.GetProperty("runs").GetInt32());

        // The ratios are the paired RegionChat/peer ratios' median and min; each side's encode is part of its TTFT.
        var pairs = r.GetProperty("pairs").EnumerateArray().ToList();
        Assert.Equal(3, pairs.Count);
        double[] Ratios(string a, string b) => pairs.Select(p => p.GetProperty(a).GetDouble() / p.GetProperty(b).GetDouble()).Order().ToArray();
        var encode = Ratios("regionchat_encode_ms", "peer_encode_ms");
        var ttft = Ratios("regionchat_ttft_ms", "peer_ttft_ms");
        Assert.Equal(encode[1], r.GetProperty("encode_ratio_median").GetDouble(), tolerance: 2e-3 * encode[1]);
        Assert.Equal(encode[0], r.GetProperty("encode_ratio_min").GetDouble(), tolerance: 2e-3 * encode[0]);
        Assert.Equal(ttft[1], r.GetProperty("ttft_ratio_median").GetDouble(), tolerance: 2e-3 * ttft[1]);
        Assert.Equal(ttft[0], r.GetProperty("ttft_ratio_min").GetDouble(), tolerance: 2e-3 * ttft[0]);
        foreach (var p in pairs)
        {
            Assert.True(p.GetProperty("peer_encode_ms").GetDouble() is > 0 and var pe && pe <= p.GetProperty("peer_ttft_ms").GetDouble());
            Assert.True(p.GetProperty("regionchat_encode_ms").GetDouble() is > 0 and var re && re <= p.GetProperty("regionchat_ttft_ms").GetDouble());
        }
        // Both prompts hold the image's 16 positions plus the same template text.
        Assert.True(r.GetProperty("peer_prompt_positions").GetInt32() > 16);
        Assert.True(r.GetProperty("regionchat_prompt_tokens").GetInt32() > 16);
        Assert.Contains("time to first token", run.Out);
    }

    [Fact]
    public async Task BenchPeerNeedsAnMmprojWithAModel()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "tiny"));
        var run = await CliRunner.RunAsync("bench", "peer", "--model", model);
        Assert.Equal(2, run.Exit);
        Assert.Contains("--mmproj", run.Err);
    }
}
