using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>`caption-batch merge`: every id once; agreeing duplicates dropped, disagreeing ones refused with nothing
/// written; a torn last line left out; malformed lines named; ids of the input without a record listed.</summary>
public sealed class CaptionBatchMergeTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    string Write(string name, params string[] lines)
    {
        string path = temp.File(name);
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        return path;
    }

    static string Caption(string id, string caption, int ms = 5) =>
        $"{{\"id\":\"{id}\",\"caption\":\"{caption}\",\"model\":\"tiny\",\"timings\":{{\"total_ms\":{ms}}}}}";

    [Fact]
    public void AgreeingDuplicatesAreKeptOnceEvenWithOtherTimings()
    {
        string a = Write("a.jsonl", Caption("1", "a red circle"), Caption("2", "a blue square"));
        string b = Write("b.jsonl", Caption("2", "a blue square", ms: 99), Caption("3", "a green star"), "{\"id\":\"4\",\"error\":\"image: not found\"}");

        var result = CaptionBatchMerge.Merge(temp.File("all.jsonl"), [a, b]);

        var records = BatchDataset.ReadRecords(temp.File("all.jsonl"));
        Assert.Equal(["1", "2", "3", "4"], records.Select(r => (string)r["id"]!));
        Assert.Equal(5, (int)records[1]["timings"]!["total_ms"]!); // the first record of an id is kept
        Assert.Equal((4, 3, 1, 1), (result.Records, result.Captions, result.Errors, result.DuplicatesDropped));
        Assert.Equal([(2, 2), (3, 2)], result.Sources.Select(s => (s.Records, s.Kept)));
    }

    [Fact]
    public void DisagreeingRecordsOfAnIdAreRefusedAndNothingIsWritten()
    {
        string a = Write("a.jsonl", Caption("1", "a red circle"), Caption("2", "a blue square"));
        string b = Write("b.jsonl", Caption("2", "a red square"), "{\"id\":\"1\",\"error\":\"INVALID_ARGUMENT: request.region.box: outside\"}");
        string all = Write("all.jsonl", "{\"id\":\"old\",\"caption\":\"from an earlier merge\"}");
        byte[] before = File.ReadAllBytes(all);

        var e = Assert.Throws<CaptionBatchMergeConflictException>(() => CaptionBatchMerge.Merge(all, [a, b]));

        Assert.Equal(2, e.Conflicts.Count);
        Assert.Contains("2 ids have records that disagree, nothing was written", e.Message);
        Assert.Contains($"id \"2\": {a} line 2 says", e.Message);
        Assert.Contains($"{b} line 1 says", e.Message);
        Assert.Contains("a red square", e.Message);
        Assert.Equal(before, File.ReadAllBytes(all));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Fact]
    public void ATornLastLineIsLeftOutAndReported()
    {
        string a = Write("a.jsonl", Caption("1", "a red circle"));
        File.AppendAllText(a, "{\"id\":\"2\",\"capt");

        var result = CaptionBatchMerge.Merge(temp.File("all.jsonl"), [a]);

        Assert.Equal(["1"], BatchDataset.ReadRecords(temp.File("all.jsonl")).Select(r => (string)r["id"]!));
        Assert.Equal(15, result.Sources[0].TornBytes);
    }

    [Fact]
    public void AMalformedLineIsNamedByFileAndLine()
    {
        string a = Write("a.jsonl", Caption("1", "a red circle"), "{\"caption\":\"no id\"}", Caption("3", "x"));

        var e = Assert.Throws<InvalidDataException>(() => CaptionBatchMerge.Merge(temp.File("all.jsonl"), [a]));

        Assert.Equal($"{a} line 2: needs an \"id\" that is a non-empty string or an integer", e.Message);
        Assert.False(File.Exists(temp.File("all.jsonl")));
    }

    [Fact]
    public void InputIdsWithoutARecordAreListed()
    {
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string a = Write("a.jsonl", data.GoodIds.Skip(2).Select(id => Caption(id, "c")).Append(Caption("stray", "c")).ToArray());

        var result = CaptionBatchMerge.Merge(temp.File("all.jsonl"), [a], data.InputPath);

        Assert.Equal(data.GoodIds.Take(2), result.MissingIds);
        Assert.Equal(data.GoodIds.Count, result.InputItems);
        Assert.Equal(1, result.ExtraIds);
    }

    [Fact]
    public void TheOutputCannotBeOneOfTheSources()
    {
        string a = Write("a.jsonl", Caption("1", "x"));
        var e = Assert.Throws<ArgumentException>(() => CaptionBatchMerge.Merge(a, [a]));
        Assert.Contains("is also one of the files to merge", e.Message);
        Assert.Throws<FileNotFoundException>(() => CaptionBatchMerge.Merge(temp.File("all.jsonl"), [temp.File("missing.jsonl")]));
    }
}
