using RegionChat.CaptionBatch.Internal;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>Error records an earlier run left: counted once per id of this job, whatever file holds them; and the kinds
/// of result on file.</summary>
public class PriorRecordsTests
{
    [Fact]
    public void CountsTheJobsIdsWithAnErrorRecordOnce()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.File("out.jsonl"), string.Join('\n',
            """{"id": "a", "caption": "a red circle", "model": "m1"}""",
            """{"id": "b", "error": "region: box: …"}""",
            """{"id": 7, "error": "image: file 'x.png' not found"}""",
            """{"id": "not-in-this-job", "error": "…"}""",
            "",
            """{"id": "c", "err""")); // a torn last line
        File.WriteAllText(temp.File("errors.jsonl"), """{"id": "b", "error": "again"}""" + "\n" + """{"id": "d", "error": "x"}""" + "\n");
        var ids = new HashSet<string>(["a", "b", "c", "d", "7"], StringComparer.Ordinal);

        var all = PriorRecords.Read([temp.File("out.jsonl"), temp.File("errors.jsonl"), null, temp.File("absent.jsonl")], ids);
        Assert.Equal(3, all.Errors);
        Assert.Equal(["caption"], all.Kinds);
        Assert.Equal(["m1"], all.Models);
        Assert.Equal(2, PriorRecords.Read([temp.File("out.jsonl")], ids).Errors);
        var absent = PriorRecords.Read([temp.File("absent.jsonl")], ids);
        Assert.Equal(0, absent.Errors);
        Assert.Empty(absent.Kinds);
    }
}
