using RegionChat.TestSupport;
using RegionChat.Data.Metrics;

namespace RegionChat.Data.Tests.Metrics;

public class CaptionFilesTests
{
    [Fact]
    public void Pairs_by_id_in_prediction_order_and_accepts_integer_ids()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"b\", \"caption\": \"x\"}\n\n{\"id\": 7, \"caption\": \"y\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"7\", \"references\": [\"y1\", \"y2\"]}\n{\"id\": \"b\", \"references\": [\"x1\"]}");
        var items = CaptionFiles.Load(dir.File("p.jsonl"), dir.File("r.jsonl"));
        Assert.Equal(["b", "7"], items.Select(i => i.Id));
        Assert.Equal(["y1", "y2"], items[1].References);
        Assert.Equal("x", items[0].Candidate);
    }

    [Fact]
    public void Names_the_ids_missing_on_either_side()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), "{\"id\": \"a\", \"caption\": \"x\"}\n{\"id\": \"only-pred\", \"caption\": \"x\"}\n");
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"a\", \"references\": [\"x\"]}\n{\"id\": \"only-ref\", \"references\": [\"x\"]}\n");
        var e = Assert.Throws<InvalidDataException>(() => CaptionFiles.Load(dir.File("p.jsonl"), dir.File("r.jsonl")));
        Assert.Contains("\"only-pred\"", e.Message);
        Assert.Contains("\"only-ref\"", e.Message);
        Assert.Contains("no references", e.Message);
        Assert.Contains("no prediction", e.Message);
    }

    [Theory]
    [InlineData("{\"id\": \"a\", \"caption\": \"x\"}\n{\"id\": \"b\", \"caption\": \n", "line 2: not valid JSON")]
    [InlineData("{\"id\": \"a\", \"caption\": \"x\"}\n[1, 2]\n", "line 2: expected a JSON object")]
    [InlineData("{\"id\": \"a\", \"caption\": 5}\n", "line 1: \"caption\" must be a string")]
    [InlineData("{\"caption\": \"x\"}\n", "line 1: missing \"id\"")]
    [InlineData("{\"id\": \"a\", \"caption\": \"x\"}\n{\"id\": \"a\", \"caption\": \"y\"}\n", "line 2: id \"a\" already used on line 1")]
    public void Malformed_prediction_lines_are_reported_with_their_line_number(string content, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.jsonl"), content);
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"a\", \"references\": [\"x\"]}\n");
        var e = Assert.Throws<InvalidDataException>(() => CaptionFiles.Load(dir.File("p.jsonl"), dir.File("r.jsonl")));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Empty_reference_lists_are_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("r.jsonl"), "{\"id\": \"a\", \"references\": []}\n");
        Assert.Contains("line 1: \"references\" is empty",
            Assert.Throws<InvalidDataException>(() => CaptionFiles.ReadReferences(dir.File("r.jsonl"))).Message);
    }
}
