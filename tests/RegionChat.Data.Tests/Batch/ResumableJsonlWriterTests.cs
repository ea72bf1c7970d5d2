using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.TestSupport;
using RegionChat.Data.Batch;

namespace RegionChat.Data.Tests.Batch;

public class ResumableJsonlWriterTests
{
    static JsonObject Record(string id, string caption = "a cat") => new() { ["id"] = id, ["caption"] = caption };

    /// <summary>Every line of the file, asserting each is complete JSON; returns the ids.</summary>
    internal static List<string> ReadIdsStrict(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length == 0 || bytes[^1] == (byte)'\n', "file must end with a complete line");
        var ids = new List<string>();
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            ids.Add(doc.RootElement.GetProperty("id").ToString());
        }
        return ids;
    }

    [Fact]
    public void Appends_lines_and_resumes_with_the_ids_already_written()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        using (var w = ResumableJsonlWriter.Open(path))
        {
            Assert.Equal(0, w.Count);
            w.Append(Record("a"));
            w.Append(new JsonObject { ["id"] = 7, ["caption"] = "line\nbreak and \"quotes\" and ünïcode" });
        }
        using (var w = ResumableJsonlWriter.Open(path))
        {
            Assert.Equal(0, w.RepairedBytes);
            Assert.Equal(["7", "a"], w.CompletedIds.Order());
            Assert.True(w.Contains("7"));
            Assert.False(w.TryAppend(Record("a", "again")));
            Assert.Contains("already holds id \"a\"", Assert.Throws<ArgumentException>(() => w.Append(Record("a"))).Message);
            w.Append(Record("b"));
        }
        Assert.Equal(["a", "7", "b"], ReadIdsStrict(path));
        Assert.Contains("ünïcode", File.ReadAllText(path));
    }

    [Fact]
    public void Torn_last_line_without_newline_is_truncated_and_can_be_rewritten()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        using (var w = ResumableJsonlWriter.Open(path)) { w.Append(Record("a")); w.Append(Record("b")); }
        long good = new FileInfo(path).Length;
        File.AppendAllText(path, "{\"id\": \"c\", \"caption\": \"half a li");

        using (var w = ResumableJsonlWriter.Open(path))
        {
            Assert.Equal(new FileInfo(path).Length, good);
            Assert.Equal(33, w.RepairedBytes);
            Assert.False(w.Contains("c"));
            w.Append(Record("c"));
        }
        Assert.Equal(["a", "b", "c"], ReadIdsStrict(path));
    }

    [Theory]
    [InlineData("{\"id\": \"c\", \"capt\n")]        // cut inside a string, newline from elsewhere
    [InlineData("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")] // zero-filled tail after a power loss
    [InlineData("{\"caption\": \"no id\"}\n")]     // a last line that is not a record
    [InlineData("{\"id\": \"c\"")]                  // parsable prefix, newline missing
    public void Unusable_last_line_is_repaired(string tail)
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        using (var w = ResumableJsonlWriter.Open(path)) w.Append(Record("a"));
        File.AppendAllText(path, tail);
        using (var w = ResumableJsonlWriter.Open(path))
        {
            Assert.Equal(Encoding.UTF8.GetByteCount(tail), w.RepairedBytes);
            Assert.Equal(1, w.Count);
        }
        Assert.Equal(["a"], ReadIdsStrict(path));
    }

    [Fact]
    public void A_bad_line_before_the_last_is_corruption_not_a_torn_write()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        File.WriteAllText(path, "{\"id\": \"a\"}\nnot json\n{\"id\": \"b\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => ResumableJsonlWriter.Open(path));
        Assert.Contains("line 2", e.Message);
        Assert.Equal("{\"id\": \"a\"}\nnot json\n{\"id\": \"b\"}\n", File.ReadAllText(path)); // nothing dropped
    }

    [Fact]
    public void Duplicate_ids_in_an_existing_file_are_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        File.WriteAllText(path, "{\"id\": \"a\"}\n{\"id\": \"b\"}\n{\"id\": \"a\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => ResumableJsonlWriter.Open(path));
        Assert.Contains("line 3: id \"a\" already appears on line 1", e.Message);
    }

    [Fact]
    public void Records_need_a_usable_id()
    {
        using var dir = new TempDir();
        using var w = ResumableJsonlWriter.Open(dir.File("out.jsonl"));
        Assert.Throws<ArgumentException>(() => w.Append(new JsonObject { ["caption"] = "x" }));
        Assert.Throws<ArgumentException>(() => w.Append(new JsonObject { ["id"] = "" }));
        Assert.Throws<ArgumentException>(() => w.Append(new JsonObject { ["id"] = 1.5 }));
        Assert.Equal(0, new FileInfo(dir.File("out.jsonl")).Length);
    }

    [Fact]
    public void A_second_writer_on_the_same_file_is_refused()
    {
        using var dir = new TempDir();
        using var first = ResumableJsonlWriter.Open(dir.File("out.jsonl"));
        var e = Assert.Throws<IOException>(() => ResumableJsonlWriter.Open(dir.File("out.jsonl")));
        Assert.Contains("another job", e.Message);
    }

    [Fact]
    public void Concurrent_appends_give_whole_unique_lines()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        using (var w = ResumableJsonlWriter.Open(path, fsyncEvery: 50))
        {
            // 4 threads race over overlapping ids: each id must land exactly once.
            Parallel.For(0, 4, t =>
            {
                for (int i = 0; i < 300; i++)
                    w.TryAppend(Record($"id-{(i + t * 100) % 500}", new string('x', 100 + (i * 37 % 2000))));
            });
            Assert.Equal(500, w.Count);
        }
        var ids = ReadIdsStrict(path);
        Assert.Equal(500, ids.Count);
        Assert.Equal(500, ids.Distinct().Count());
    }
}
