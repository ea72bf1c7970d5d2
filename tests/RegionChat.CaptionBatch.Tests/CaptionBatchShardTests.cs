using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>`--shard I/N`: a fixed hash of the id (FNV-1a), so a shard's set never changes; N shards of one job on a real
/// server take every id exactly once, and their merge holds every id once.</summary>
public sealed class CaptionBatchShardTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    // Published FNV-1a 64-bit test vectors.
    [InlineData("", 0xcbf29ce484222325UL)]
    [InlineData("a", 0xaf63dc4c8601ec8cUL)]
    [InlineData("foobar", 0x85944171f73967e8UL)]
    public void TheHashIsFnv1a64OfTheUtf8Bytes(string id, ulong expected) => Assert.Equal(expected, CaptionBatchShard.Fnv1a64(id));

    [Fact]
    public void AShardsIdsArePinnedByTheHashNotByTheProcess()
    {
        // Computed from the FNV-1a definition; string.GetHashCode would give other shards in every process.
        Assert.Equal(0xaf63dc4c8601ec8cUL % 3, (ulong)CaptionBatchShard.ShardOf("a", 3));
        Assert.Equal(0x85944171f73967e8UL % 7, (ulong)CaptionBatchShard.ShardOf("foobar", 7));
        // Non-ASCII ids hash their UTF-8 bytes (not UTF-16 chars), however long: FNV-1a as its definition gives it.
        string longId = new('é', 300);
        ulong expected = 0xcbf29ce484222325UL;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(longId)) expected = unchecked((expected ^ b) * 0x100000001b3UL);
        Assert.Equal(expected, CaptionBatchShard.Fnv1a64(longId));
        Assert.Equal(0, CaptionBatchShard.ShardOf("anything", 1));
    }

    [Fact]
    public void ThreeShardsTakeEveryIdExactlyOnceAndSplitThemRoughlyEvenly()
    {
        var ids = Enumerable.Range(0, 3000).Select(i => i % 2 == 0 ? $"item-{i}" : i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var shards = Enumerable.Range(0, 3).Select(i => new CaptionBatchShard(i, 3)).ToArray();
        foreach (var id in ids) Assert.Single(shards, s => s.Contains(id));
        foreach (var s in shards) Assert.InRange(ids.Count(s.Contains), 850, 1150);
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData(" 0/16 ", 0, 16)]
    public void ParsesIOverN(string text, int index, int count) => Assert.Equal(new CaptionBatchShard(index, count), CaptionBatchShard.Parse(text));

    [Theory]
    [InlineData("3/3")]
    [InlineData("1/0")]
    [InlineData("-1/3")]
    [InlineData("1")]
    [InlineData("1/3/4")]
    [InlineData("a/3")]
    [InlineData("1/2000000")]
    public void RefusesAnythingButIOverN(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => CaptionBatchShard.Parse(text));
        Assert.Contains("--shard must be I/N", e.Message);
        Assert.Contains($"'{text}'", e.Message);
    }

    [Fact]
    public async Task ThreeShardJobsOnAServerCoverEveryIdOnceAndTheirMergeHoldsEachOnce()
    {
        await using var server = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:Threads"] = "1",
            ["RegionChat:ContextSize"] = "4096",
        });
        var data = BatchDataset.Write(temp.File("data"), repeat: 3); // 30 good items and the bad ones
        var outputs = new List<string>();
        var perShard = new List<HashSet<string>>();
        for (int i = 0; i < 3; i++)
        {
            string output = temp.File($"shard-{i}.jsonl");
            var options = new CaptionBatchOptions
            {
                InputPath = data.InputPath,
                OutputPath = output,
                Servers = [server.Address.ToString()],
                Shard = new CaptionBatchShard(i, 3),
                Concurrency = 4,
                MaxTokens = 4,
            };
            var summary = await CaptionBatchJob.RunAsync(options);
            var ids = BatchDataset.ReadRecords(output).Select(r => (string)r["id"]!).ToHashSet();
            Assert.Equal(data.AllIds.Where(id => CaptionBatchShard.ShardOf(id, 3) == i).Order(), ids.Order());
            Assert.Equal((ids.Count, 0), (summary.Progress.Total, summary.Progress.Remaining));
            Assert.Equal(new CaptionBatchShard(i, 3), summary.Shard);
            Assert.NotEmpty(ids);

            // A rerun of the shard finds its items done and touches nothing.
            byte[] before = File.ReadAllBytes(output);
            var again = await CaptionBatchJob.RunAsync(options);
            Assert.Equal((ids.Count, 0), (again.Progress.Skipped, again.Progress.Done));
            Assert.Equal(before, File.ReadAllBytes(output));
            outputs.Add(output);
            perShard.Add(ids);
        }
        Assert.Equal(data.AllIds.Order(), perShard.SelectMany(s => s).Order()); // disjoint and complete

        var merged = CaptionBatchMerge.Merge(temp.File("all.jsonl"), outputs, data.InputPath);

        var records = BatchDataset.ReadRecords(temp.File("all.jsonl"));
        Assert.Equal(data.AllIds.Order(), records.Select(r => (string)r["id"]!).Order());
        Assert.Equal((data.AllIds.Count, data.GoodIds.Count, BatchDataset.BadItems.Count, 0), (merged.Records, merged.Captions, merged.Errors,
            merged.DuplicatesDropped));
        Assert.Empty(merged.MissingIds);
        Assert.Equal(0, merged.ExtraIds);
        // The lines are copied as they are, shard by shard.
        Assert.Equal(string.Concat(outputs.Select(File.ReadAllText)), File.ReadAllText(temp.File("all.jsonl")));
    }
}
