using System.Text.Json;
using RegionChat.TestSupport;
using RegionChat.Data.Batch;

namespace RegionChat.Data.Tests.Batch;

public class BatchInputReaderTests
{
    [Fact]
    public void Reads_items_resolving_image_paths_against_the_input_folder()
    {
        using var dir = new TempDir();
        string input = dir.File("jobs.jsonl");
        File.WriteAllText(input, string.Join('\n',
            "{\"id\": \"a\", \"image\": \"imgs/cat.png\", \"region\": {\"box\": [1, 2, 30, 40]}, \"instruction\": \"Describe it.\"}",
            "",
            "{\"id\": 2, \"image\": \"/data/dog.png\", \"region\": [[0, 0], [5, 5]], \"extra\": true}"));

        var items = BatchInputReader.ReadFile(input);

        Assert.Equal(2, items.Count);
        Assert.Equal(("a", Path.Combine(dir.Path, "imgs", "cat.png"), "Describe it.", 1), (items[0].Id, items[0].ImagePath, items[0].Instruction, items[0].Line));
        Assert.Equal(JsonValueKind.Object, items[0].Region.ValueKind);
        Assert.Equal(30, items[0].Region.GetProperty("box")[2].GetInt32()); // still readable after the document is gone
        Assert.Equal(("2", "/data/dog.png", (string?)null, 3), (items[1].Id, items[1].ImagePath, items[1].Instruction, items[1].Line));
        Assert.Equal("[[0, 0], [5, 5]]", items[1].Region.GetRawText());
    }

    [Theory]
    [InlineData("{\"id\": \"a\", \"image\": \"x.png\", \"region\": {}}\n{\"id\": \"a\", \"image\": \"y.png\", \"region\": {}}", "line 2: id \"a\" already used on line 1")]
    [InlineData("{\"id\": \"a\", \"image\": \"x.png\", \"region\": {}}\n{\"id\": \"b\", \"image\": ", "line 2: not valid JSON")]
    [InlineData("{\"image\": \"x.png\", \"region\": {}}", "line 1: missing \"id\"")]
    [InlineData("{\"id\": \"a\", \"region\": {}}", "line 1: \"image\" must be a non-empty string")]
    [InlineData("{\"id\": \"a\", \"image\": \"x.png\"}", "line 1: missing \"region\"")]
    [InlineData("{\"id\": \"a\", \"image\": \"x.png\", \"region\": null}", "line 1: missing \"region\"")]
    [InlineData("{\"id\": \"a\", \"image\": \"x.png\", \"region\": {}, \"instruction\": 3}", "line 1: \"instruction\" must be a string")]
    [InlineData("{\"id\": [], \"image\": \"x.png\", \"region\": {}}", "line 1: \"id\" must be")]
    [InlineData("\"just a string\"", "line 1: expected a JSON object")]
    public void Bad_lines_are_reported_with_their_line_number(string content, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("jobs.jsonl"), content);
        var e = Assert.Throws<InvalidDataException>(() => BatchInputReader.ReadFile(dir.File("jobs.jsonl")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("jobs.jsonl", e.Message);
    }

    [Fact]
    public void A_utf8_bom_at_the_start_is_skipped()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("jobs.jsonl"), "{\"id\": \"a\", \"image\": \"x.png\", \"region\": {}}\n", new System.Text.UTF8Encoding(true));
        Assert.Equal(0xEF, File.ReadAllBytes(dir.File("jobs.jsonl"))[0]);
        Assert.Equal("a", Assert.Single(BatchInputReader.ReadFile(dir.File("jobs.jsonl"))).Id);
    }

    [Fact]
    public void Missing_file_is_a_clear_error()
    {
        using var dir = new TempDir();
        Assert.Contains("not found", Assert.Throws<FileNotFoundException>(() => BatchInputReader.ReadFile(dir.File("nope.jsonl"))).Message);
    }
}
