using RegionChat.Server.TestHost;
using RegionChat.TestSupport;
using Xunit.Abstractions;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>
/// caption-batch through a real nginx (deploy/nginx/regionchat.conf) over three servers (issue 13 item 6): with several
/// streams the job spreads its items over the replicas (each stream's uploads and items stay on one replica by its
/// routing key), and a replica stopped mid-job loses no item and duplicates none: its streams move to live replicas.
/// </summary>
public sealed class CaptionBatchFleetTests(ITestOutputHelper log) : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [SkippableFact]
    public async Task ItemsSpreadOverTheReplicasAndAReplicaStoppedMidJobLosesAndDuplicatesNothing()
    {
        FleetBinaries.Require("nginx", "nginx-light");
        var settings = new Dictionary<string, string?> { ["RegionChat:Threads"] = "1", ["RegionChat:ContextSize"] = "4096" };
        var replicas = new List<ServerHost>();
        for (int i = 0; i < 3; i++) replicas.Add(await ServerHost.StartAsync(settings));
        var stopped = new bool[3];
        try
        {
            await using var nginx = await NginxBalancer.StartAsync(replicas.Select(r => (r.Address, r.HttpAddress)).ToArray());
            var data = BatchDataset.Write(temp.File("data"), repeat: 24, withBadItems: false); // 240 items
            Task<(int Gone, int[] Counts)>? stopping = null;
            var summary = await CaptionBatchJob.RunAsync(new CaptionBatchOptions
            {
                InputPath = data.InputPath,
                OutputPath = temp.File("out.jsonl"),
                Servers = [nginx.GrpcAddress.ToString()],
                Streams = 12,
                Concurrency = 2,
                MaxTokens = 8,
                Retries = 3,
                Backoff = TimeSpan.FromMilliseconds(50),
                MaxBackoff = TimeSpan.FromMilliseconds(400),
            }, progress: p =>
            {
                if (p.Done >= 16 && stopping == null)
                    lock (this) stopping ??= Task.Run(async () =>
                    {
                        // The replica that has encoded most so far goes away (its streams break mid-item). The servers
                        // share one process, so their /metrics are one; each core's vision batcher counts its own items.
                        var counts = replicas.Select(r => (int)Interlocked.Read(ref r.Core.VisionBatcher.Items)).ToArray();
                        int busiest = Array.IndexOf(counts, counts.Max());
                        stopped[busiest] = true;
                        await replicas[busiest].DisposeAsync();
                        return (busiest, counts);
                    });
            }, log: log.WriteLine);
            Assert.NotNull(stopping);
            var (gone, before) = await stopping!;
            log.WriteLine($"items per replica when replica {gone} was stopped: {string.Join(", ", before)}");
            // 12 streams, each on the replica its routing key hashes to: more than one replica had items.
            Assert.True(before.Count(n => n > 0) >= 2, "the streams did not spread over the replicas");

            var records = BatchDataset.ReadRecords(temp.File("out.jsonl"));
            var ids = records.Select(r => (string)r["id"]!).ToArray();
            Assert.Equal(ids.Length, ids.Distinct().Count());
            Assert.Equal(data.GoodIds.Order(), ids.Order());
            Assert.All(records, r => Assert.Null(r["error"]));
            Assert.Equal(data.GoodIds.Count, summary.Progress.Captioned);
            Assert.Equal(12, summary.Servers.Count);
            foreach (var s in summary.Servers) log.WriteLine(s.ToString());

            // nginx's access log names the replica of every CaptionStream call (logged when the call ends).
            var streamed = nginx.AccessLog.Split('\n').Where(l => l.Contains("/CaptionStream", StringComparison.Ordinal)).ToArray();
            Assert.Contains(streamed, l => l.Contains($"upstream={replicas[gone].Address.Authority}", StringComparison.Ordinal));
            Assert.True(Enumerable.Range(0, 3).Count(i => streamed.Any(l => l.Contains($"upstream={replicas[i].Address.Authority}",
                StringComparison.Ordinal))) >= 2, "the streams all went to one replica:\n" + string.Join("\n", streamed));
            Assert.True(summary.Servers.Sum(s => s.Failures) > 0, "no stream noticed the stop");
            // A stream's uploads go where its items go (its routing key): each stream uploads each image once per connection,
            // never again because an item reached a replica without it (without the key nginx spreads the uploads too).
            log.WriteLine($"requeued {summary.Servers.Sum(s => s.Requeued)}, uploads {summary.Servers.Sum(s => s.Uploads)}");
            Assert.All(summary.Servers, s => Assert.True(s.Uploads <= BatchDataset.DistinctImages * (1 + s.Failures),
                $"{s.Address} uploaded {s.Uploads} times over {1 + s.Failures} connections"));
        }
        finally
        {
            for (int i = 0; i < 3; i++)
                if (!stopped[i]) await replicas[i].DisposeAsync();
        }
    }
}
