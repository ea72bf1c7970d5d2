using System.Diagnostics;
using System.Text.Json;

namespace RegionChat.Cli.Tests;

/// <summary>`bench vision --profile --json` on a small tower: the forward and its ops, each timed.</summary>
public sealed class BenchVisionCommandTests
{
    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public async Task TheProfileTimesEveryOpOfABlockAndTheJsonHoldsThem(string dtype)
    {
        // bench vision writes to the console, so it runs as a process of its own.
        using var process = Process.Start(CliRunner.ChildProcessStart("bench", "vision", "--size", "56", "--patch", "14", "--width", "64",
            "--layers", "2", "--heads", "4", "--output-dim", "32", "--warmup", "0", "--runs", "2", "--gemm-size", "128", "--threads", "1",
            "--dtype", dtype, "--profile", "--json"))!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr + stdout);
        using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        var profile = doc.RootElement.GetProperty("profile_ms");
        var names = profile.EnumerateObject().Select(p => p.Name).ToList();
        foreach (var op in new[] { "matrix products", "scaled_dot_product_attention", "as matmul, softmax", "layer norms", "QuickGELU" })
            Assert.Contains(names, n => n.Contains(op, StringComparison.Ordinal));
        Assert.All(profile.EnumerateObject(), p => Assert.True(p.Value.GetDouble() >= 0, p.Name));
        Assert.True(profile.EnumerateObject().First(p => p.Name.StartsWith("matrix products", StringComparison.Ordinal)).Value.GetDouble() > 0);
        Assert.Contains("ops of a block timed alone", stdout);
        Assert.Equal(dtype == "bf16" ? "BFloat16" : "Float32", doc.RootElement.GetProperty("dtype").GetString());
    }
}
