using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Cli.Commands;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.CaptionBatch;

/// <summary>`caption-batch` end to end: a real server on 127.0.0.1 with the tiny random model, and the same model
/// in-process; bad items, resume, usage errors, unreachable servers, API keys; and `bench batch --json`.</summary>
public sealed class CaptionBatchCommandTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    static readonly string[] TimingKeys = ["total_ms", "queue_ms", "image_decode_ms", "vision_encode_ms", "prefill_ms", "decode_ms", "time_to_first_token_ms", "decode_tokens_per_second", "visual_cache_hit"];

    [Fact]
    public async Task ThroughAServerEveryGoodItemIsCaptionedEveryBadOneRecordedAndARerunChangesNothing()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"));
        string output = temp.File(Path.Combine("out", "captions.jsonl")); // the folder does not exist yet
        string[] args = ["caption-batch", "--input", data.InputPath, "--output", output, "--server", fx.Url, "--max-tokens", "6", "--concurrency", "4"];

        var run = await CliRunner.RunAsync(args);

        Assert.True(run.Exit == 1, $"exit {run.Exit} (bad items must make it 1): {run.Err}");
        var records = BatchDataset.ReadRecords(output);
        Assert.Equal(data.AllIds.Order(), records.Select(Id).Order()); // every id exactly once
        var byId = records.ToDictionary(Id);
        foreach (var id in data.GoodIds)
        {
            var r = byId[id];
            Assert.True(r["caption"]?.GetValueKind() == JsonValueKind.String, $"{id}: {r.ToJsonString()}");
            Assert.Equal("tiny", (string?)r["model"]);
            var timings = Assert.IsType<JsonObject>(r["timings"]);
            Assert.Equal(TimingKeys.Order(), timings.Select(t => t.Key).Order());
            Assert.True((double)timings["total_ms"]! > 0, r.ToJsonString());
            Assert.Null(r["error"]);
        }
        Assert.True(data.GoodIds.Select(id => (string)byId[id]["caption"]!).Distinct().Count() > 1, "all captions are equal: the test cannot tell items apart");
        foreach (var (id, expected) in BatchDataset.BadItems)
        {
            string error = (string?)byId[id]["error"] ?? throw new Xunit.Sdk.XunitException($"{id} has no error: {byId[id].ToJsonString()}");
            Assert.Contains(expected, error);
            Assert.Null(byId[id]["caption"]);
        }
        Assert.StartsWith("INVALID_ARGUMENT: request.region", (string)byId["box-outside"]["error"]!); // the server's verdict, not retried
        Assert.Contains($"{data.GoodIds.Count} captioned, {BatchDataset.BadItems.Count} failed, 0 already done, 0 left", run.Out);
        // scene1.png and its byte copy are one image: each distinct image went up once.
        Assert.Contains($"{BatchDataset.DistinctImages} images uploaded", run.Out);
        Assert.Contains("items/s", run.Err);

        // Resume with nothing left: no new line, same bytes; still exit 1 while error records are on file.
        byte[] before = File.ReadAllBytes(output);
        var again = await CliRunner.RunAsync(args);
        Assert.Equal(1, again.Exit);
        Assert.Equal(before, File.ReadAllBytes(output));
        Assert.Contains($"0 captioned, 0 failed, {data.AllIds.Count} already done", again.Out);
        Assert.Contains($"{BatchDataset.BadItems.Count} error records from earlier runs", again.Out);
    }

    [Fact]
    public async Task InProcessWithErrorsFileGivesTheServersCaptions()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"));
        var server = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", temp.File("server.jsonl"),
            "--server", fx.Url, "--max-tokens", "6", "--errors", temp.File("server-errors.jsonl"));
        Assert.True(server.Exit == 1, server.Err);

        var local = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", temp.File("local.jsonl"),
            "--model", fx.ModelDir, "--threads", "1", "--max-tokens", "6", "--concurrency", "4", "--errors", temp.File("local-errors.jsonl"));

        Assert.True(local.Exit == 1, local.Err);
        Assert.Contains("loaded tiny", local.Err);
        var captions = BatchDataset.ReadRecords(temp.File("local.jsonl"));
        var errors = BatchDataset.ReadRecords(temp.File("local-errors.jsonl"));
        Assert.Equal(data.GoodIds.Order(), captions.Select(Id).Order());
        Assert.Equal(BatchDataset.BadItems.Keys.Order(), errors.Select(Id).Order());
        Assert.All(captions, r => Assert.Equal("tiny", (string?)r["model"]));
        foreach (var e in errors) Assert.Contains(BatchDataset.BadItems[Id(e)], (string)e["error"]!);

        // Same model, greedy, same regions: the in-process route answers what the server answered. Batches of other
        // sizes round differently, which can flip a near-tie now and then (1 in 128 seen in bench batch), so a mismatch or
        // two are tolerated; a region or prompt that differed between the routes would change most captions.
        var fromServer = BatchDataset.ReadRecords(temp.File("server.jsonl")).ToDictionary(Id, r => (string)r["caption"]!);
        var differing = captions.Where(r => fromServer[Id(r)] != (string)r["caption"]!).Select(r => $"{Id(r)}: '{fromServer[Id(r)]}' vs '{r["caption"]}'").ToList();
        Assert.True(differing.Count <= 2, "captions differ between the routes: " + string.Join("; ", differing));
        Assert.Equal(BatchDataset.BadItems.Keys.Order(), BatchDataset.ReadRecords(temp.File("server-errors.jsonl")).Select(Id).Order());
    }

    [Theory]
    [InlineData("both", "give --server or --model, not both")]
    [InlineData("box-for-jsonl", "--region-from box applies to COCO input")]
    [InlineData("bad-line", "line 2: not valid JSON")]
    [InlineData("output-is-input", "must not be the input file")]
    [InlineData("no-input", "not found")]
    [InlineData("concurrency", "--concurrency must be in [1, 256]")]
    public async Task BadArgumentsAndInputsExitWithTwoAndOneLine(string what, string expected)
    {
        using var temp = new TempDir();
        string input = temp.File("items.jsonl");
        File.WriteAllText(input, "{\"id\": \"a\", \"image\": \"x.png\", \"region\": {\"whole\": true}}\n" + (what == "bad-line" ? "{\"id\": \"b\", \n" : ""));
        string output = temp.File("out.jsonl");
        string[] args = what switch
        {
            "both" => ["--input", input, "--output", output, "--server", fx.Url, "--model", fx.ModelDir],
            "box-for-jsonl" => ["--input", input, "--output", output, "--server", fx.Url, "--region-from", "box"],
            "output-is-input" => ["--input", input, "--output", input, "--server", fx.Url],
            "no-input" => ["--input", temp.File("nope.jsonl"), "--output", output, "--server", fx.Url],
            "concurrency" => ["--input", input, "--output", output, "--server", fx.Url, "--concurrency", "0"],
            _ => ["--input", input, "--output", output, "--server", fx.Url],
        };
        var run = await CliRunner.RunAsync(["caption-batch", .. args]);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: ", run.Err);
        Assert.Contains(expected, run.Err);
        Assert.Single(run.Err.Trim().Split('\n'));
        Assert.False(File.Exists(output) && new FileInfo(output).Length > 0, "nothing may be written");
    }

    [Fact]
    public async Task WithNoServerReachableTheJobStopsAndARerunResumes()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string output = temp.File("out.jsonl");
        var dead = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", output,
            "--server", $"127.0.0.1:{FreePort()}", "--retries", "1", "--max-tokens", "4", "--server-wait", "1");
        Assert.Equal(3, dead.Exit);   // items left without a record: a rerun resumes
        Assert.Contains("error: no server is reachable", dead.Err);
        Assert.Contains("none came back within 1 s", dead.Err);
        Assert.Contains("rerun the same command to resume", dead.Err);
        Assert.Contains($"stopped: 0 captioned, 0 failed, 0 already done, {data.GoodIds.Count} left", dead.Out);
        Assert.Empty(BatchDataset.ReadRecords(output)); // no error records: the items were never tried

        var resumed = await CliRunner.RunAsync("caption-batch", "--input", data.InputPath, "--output", output, "--server", fx.Url, "--max-tokens", "4");
        Assert.True(resumed.Exit == 0, resumed.Err);
        Assert.Equal(data.GoodIds.Order(), BatchDataset.ReadRecords(output).Select(Id).Order());
    }

    [Fact]
    public async Task AWrongApiKeyStopsTheJobAndTheRightOneRunsIt()
    {
        using var temp = new TempDir();
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        await using var keyed = await InProcessServer.StartAsync(fx.ModelDir, new Dictionary<string, string?>
        {
            ["RegionChat:Threads"] = "1",
            ["RegionChat:ContextSize"] = "2048",
            ["RegionChat:ApiKeys:0"] = "batch-key",
        });
        string[] args = ["caption-batch", "--input", data.InputPath, "--output", temp.File("out.jsonl"), "--server", keyed.Address.ToString(), "--max-tokens", "4"];

        var refused = await CliRunner.RunAsync([.. args, "--api-key", "wrong"]);
        Assert.Equal(2, refused.Exit);   // the same command would stop the same way
        Assert.Contains("refused the job: UNAUTHENTICATED", refused.Err);

        var accepted = await CliRunner.RunAsync([.. args, "--api-key", "batch-key"]);
        Assert.True(accepted.Exit == 0, accepted.Err);
        Assert.Equal(data.GoodIds.Count, BatchDataset.ReadRecords(temp.File("out.jsonl")).Count);
    }

    [Fact]
    public async Task BenchBatchEndsWithOneJsonLineHoldingTheRatio()
    {
        var run = await CliRunner.RunAsync("bench", "batch", "--model", fx.ModelDir, "--items", "4", "--concurrency", "2",
            "--max-tokens", "4", "--threads", "1", "--json");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains("CaptionStream / unary:", run.Out);
        using var doc = JsonDocument.Parse(run.Out.TrimEnd().Split('\n')[^1]);
        var r = doc.RootElement;
        Assert.Equal(4, r.GetProperty("items").GetInt32());
        Assert.Equal(2, r.GetProperty("concurrency").GetInt32());
        double unary = r.GetProperty("unary_items_per_second").GetDouble(), stream = r.GetProperty("stream_items_per_second").GetDouble();
        Assert.True(unary > 0 && stream > 0, doc.RootElement.GetRawText());
        Assert.Equal(stream / unary, r.GetProperty("ratio").GetDouble(), tolerance: 2e-3);
        Assert.Equal(r.GetProperty("ratio").GetDouble() >= 1.5, r.GetProperty("target_met").GetBoolean());
        // Both routes got the same items (cache off), so the same greedy captions (up to a rare near-tie that batching flips).
        Assert.InRange(r.GetProperty("identical_captions").GetInt32(), 3, 4);
        Assert.True(r.GetProperty("unary_completion_tokens").GetInt64() > 0);
        // The server's own timings of the items: every item ran the vision tower and a prefill; the first token comes after both.
        foreach (var route in new[] { "unary_timings_ms_median", "stream_timings_ms_median" })
        {
            var t = r.GetProperty(route);
            Assert.True(t.GetProperty("vision_encode").GetDouble() > 0 && t.GetProperty("prefill").GetDouble() > 0, t.GetRawText());
            Assert.True(t.GetProperty("time_to_first_token").GetDouble() >= t.GetProperty("prefill").GetDouble(), t.GetRawText());
        }
        Assert.Contains("where an item's time went", run.Out);
    }

    [Fact]
    public void TheProgressLineShowsCountRateAndEta()
    {
        var line = CaptionBatchProgressBar.Format(new RegionChat.CaptionBatch.CaptionBatchProgress(110, 10, 45, 5, TimeSpan.FromSeconds(10)));
        Assert.Equal("[###############...............] 50/100  50% 5.00 items/s ETA 0:10 failed 5 (skipped 10 done earlier)", line);
        Assert.EndsWith("done", CaptionBatchProgressBar.Format(new RegionChat.CaptionBatch.CaptionBatchProgress(3, 0, 3, 0, TimeSpan.FromSeconds(1))));
        // A report while a server holds its items without answering: what the job waits on, and for how long.
        var stalled = new RegionChat.CaptionBatch.CaptionBatchProgress(30, 0, 12, 0, TimeSpan.FromSeconds(60))
        {
            InFlight = 4, Waiting = 14, SinceLastFinished = TimeSpan.FromSeconds(35),
        };
        Assert.EndsWith("12/30  40% 0.20 items/s ETA 1:30, 4 in flight, 14 waiting, none finished for 0:35", CaptionBatchProgressBar.Format(stalled));
    }

    static string Id(JsonObject record) => (string)record["id"]!;

    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
