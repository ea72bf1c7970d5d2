using System.Text.Json.Nodes;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>`bench batch` reports each route's CPU time per item, and how busy the LLM engine's and the vision batcher's
/// threads were, when the server runs in its own process (--model), and leaves them out against --server, where the
/// process's CPU is the client's alone.</summary>
[Collection(StageThreadReadings.Name)]
public sealed class BenchBatchCpuTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>, IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task AnInProcessServerGetsCpuPerItemForEachRoute()
    {
        string model = TinyModel.Write(Path.Combine(temp.Path, "tiny"));
        const int items = 32, concurrency = 4, legs = items / (4 * concurrency);   // a leg holds 4 windows
        var run = await CliRunner.RunAsync("bench", "batch", "--model", model, "--items", $"{items}", "--concurrency", $"{concurrency}",
            "--max-tokens", "2", "--threads", "1", "--json");
        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Err}");
        var json = JsonNode.Parse(run.Out.TrimEnd().Split('\n')[^1])!;
        foreach (var route in new[] { "unary", "stream" })
        {
            double perItem = (double)json[$"{route}_cpu_ms_per_item"]!, busy = (double)json[$"{route}_cores_busy"]!;
            double wallMs = (double)json[$"{route}_wall_s"]! * 1000;
            Assert.Equal(items, (int)json["items"]!);
            Assert.True(perItem > 0, $"{route}: {perItem} ms per item");
            // Both figures come from the same CPU total: busy cores = CPU per item × items / wall.
            Assert.Equal(perItem * items / wallMs, busy, tolerance: 0.01 + busy * 0.01);
            // The process's CPU time is read in clock ticks (10 ms) at each end of a leg: over legs this short that is
            // a visible error, either way.
            double tickSlack = 2 * 10.0 * legs / wallMs;
            Assert.True(busy <= Environment.ProcessorCount + tickSlack + 0.05,
                $"{route}: {busy} cores busy on {Environment.ProcessorCount} (tick slack {tickSlack:F2})");
            // The stage threads (the engine's decode steps, the batcher's forwards) did work, each at most one core's
            // worth, and they are part of the process's total.
            double engine = (double)json[$"{route}_engine_thread_busy"]!, vision = (double)json[$"{route}_vision_thread_busy"]!;
            Assert.InRange(engine, 1e-6, 1.02);
            Assert.InRange(vision, 1e-6, 1.02);
            Assert.True(engine + vision <= busy + tickSlack + 0.05, $"{route}: stage threads {engine} + {vision} > process {busy}");
            // The JIT's compile time during the legs is CPU time of this process's threads.
            double jit = (double)json[$"{route}_jit_ms"]!;
            Assert.InRange(jit, 0, perItem * items + 2 * 10.0 * legs + 1);
        }
        Assert.Matches(@"threads busy: LLM engine \d\.\d\d, vision batcher \d\.\d\d; JIT \d+ ms\)", run.Out);
        Assert.Contains("CPU per item (this process: the client and the in-process server): unary ", run.Out);
    }

    [Fact]
    public async Task AgainstAServerTheCpuFiguresAreLeftOut()
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--server", fx.Url, "--items", "8", "--concurrency", "4", "--max-tokens", "2", "--json");
        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Err}");
        var json = JsonNode.Parse(run.Out.TrimEnd().Split('\n')[^1])!.AsObject();
        Assert.True(json.ContainsKey("unary_cpu_ms_per_item"));
        Assert.Null(json["unary_cpu_ms_per_item"]);
        Assert.Null(json["stream_cores_busy"]);
        Assert.Null(json["unary_engine_thread_busy"]);
        Assert.Null(json["stream_vision_thread_busy"]);
        Assert.Null(json["unary_jit_ms"]);
        Assert.DoesNotContain("CPU per item", run.Out);
    }
}

/// <summary>The stage threads are found by name in the test process, which holds the other tests' servers too: these
/// tests run alone, after the parallel ones, so no other server's engine or batcher is working meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StageThreadReadings
{
    public const string Name = "stage thread readings";
}
