using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`bench budget --json`: both legs ran on the real core, the budget leg kept K tokens, ratios are the pairs'.</summary>
public sealed class BenchBudgetCommandTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task BudgetLegKeepsKTokensAndTheRatiosAreThePairs()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "tiny"));
        var run = await CliRunner.RunAsync("bench", "budget", "--model", model, "--visual-token-budget", "5", "--pairs", "3", "--threads", "1", "--json");
        Assert.True(run.Exit == 0, run.Err + run.Out);
        using var doc = JsonDocument.Parse(run.Out.TrimEnd().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal(16, r.GetProperty("visual_tokens_all").GetInt32());
        Assert.Equal(5, r.GetProperty("visual_tokens_budget").GetInt32());
        // The same prompt text around 16 or 5 visual rows.
        Assert.Equal(11, r.GetProperty("prompt_positions_all").GetInt32() - r.GetProperty("prompt_positions_budget").GetInt32());
        // TinyModel's LLM: 2 layers x 2 KV heads x (64 / 4) wide, K and V, f16.
        Assert.Equal(2 * 2 * 16 * 2 * 2, r.GetProperty("kv_bytes_per_position").GetInt64());
        foreach (var key in new[] { "ttft_ms_all", "ttft_ms_budget", "vision_ms_all", "vision_ms_budget", "prefill_ms_all", "prefill_ms_budget" })
            Assert.True(r.GetProperty(key).GetDouble() > 0, $"{key} is {r.GetProperty(key)}");
        // Image decoding is timed apart from the rest of the turn outside vision and prefill.
        Assert.True(r.GetProperty("image_ms_all").GetDouble() > 0 && r.GetProperty("image_ms_budget").GetDouble() > 0, run.Out);
        Assert.True(r.GetProperty("other_ms_all").GetDouble() < r.GetProperty("ttft_ms_all").GetDouble(), run.Out);
        var ratios = r.GetProperty("pair_ttft_ratios").EnumerateArray().Select(e => e.GetDouble()).Order().ToArray();
        Assert.Equal(3, ratios.Length);
        Assert.Equal(ratios[1], r.GetProperty("ttft_ratio_median").GetDouble(), tolerance: 1e-3);
        Assert.Equal(ratios[2], r.GetProperty("ttft_ratio_max").GetDouble(), tolerance: 1e-3);
        Assert.Contains("time to first token", run.Out);
    }

    [Fact]
    public async Task ABudgetThatKeepsEveryTokenIsRefused()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "tiny"));
        var run = await CliRunner.RunAsync("bench", "budget", "--model", model, "--visual-token-budget", "16", "--threads", "1");
        Assert.Equal(1, run.Exit);
        Assert.Contains("keeps all 16 visual tokens", run.Err);
    }

    [Theory]
    [InlineData("--synth", "--model", "give --model DIR or --synth, not both")]
    [InlineData("--synth-dir", "--model", "--synth-dir goes with --synth")]
    public async Task SynthAndModelAreRefusedTogether(string first, string second, string message)
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "tiny"));
        string[] args = first == "--synth" ? ["bench", "budget", first, second, model] : ["bench", "budget", first, temp.Path, second, model];
        var run = await CliRunner.RunAsync(args);
        Assert.Equal(1, run.Exit);
        Assert.Contains(message, run.Err);
        Assert.False(File.Exists(Path.Combine(temp.Path, "model.json")), "nothing is written");
    }
}
