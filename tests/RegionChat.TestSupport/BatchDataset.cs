using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Data.Regions;
using RegionChat.Data.Shapes;
using RegionChat.Vision.Regions;

namespace RegionChat.TestSupport;

/// <summary>
/// A JSONL batch input over shapes scenes, written to a folder: good items with every region form (three image files
/// holding two distinct images: one file is a byte copy of another) and bad items that must become error records.
/// </summary>
public sealed class BatchDataset
{
    /// <summary>Ids of the bad items and a piece of their expected error text.</summary>
    public static readonly IReadOnlyDictionary<string, string> BadItems = new Dictionary<string, string>
    {
        ["missing-image"] = "not found",
        ["corrupt-image"] = "corrupt.png",
        ["two-point-polygon"] = "region: polygon",
        ["unknown-region-kind"] = "region: needs one of the keys",
        ["box-outside"] = "box",
        ["rle-wrong-size"] = "rle",
        ["mask-missing"] = "mask",
    };

    BatchDataset(string folder, string input, IReadOnlyList<string> goodIds, IReadOnlyList<string> allIds)
    {
        Folder = folder;
        InputPath = input;
        GoodIds = goodIds;
        AllIds = allIds;
    }

    public string Folder { get; }
    public string InputPath { get; }
    public IReadOnlyList<string> GoodIds { get; }
    public IReadOnlyList<string> AllIds { get; }
    /// <summary>Distinct valid image contents the good items use (scene1.png and its copy count once).</summary>
    public const int DistinctImages = 2;

    /// <summary>Writes the dataset; <paramref name="repeat"/> copies of the good items (ids suffixed) make a longer job.</summary>
    public static BatchDataset Write(string folder, int repeat = 1, bool withBadItems = true)
    {
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        var scene1 = ShapesGenerator.Generate(1_000_000_321);
        var scene2 = ShapesGenerator.Generate(1_000_000_654);
        scene1.SavePng(Path.Combine(folder, "images", "scene1.png"));
        scene2.SavePng(Path.Combine(folder, "images", "scene2.png"));
        File.Copy(Path.Combine(folder, "images", "scene1.png"), Path.Combine(folder, "images", "scene1-copy.png"));
        File.WriteAllBytes(Path.Combine(folder, "images", "corrupt.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5, 6, 7, 8]);
        ShapesPng.SaveMaskPng(scene1.Objects[0].VisibleMask, Path.Combine(folder, "mask1.png"));
        var o2 = scene2.Objects[0];
        var rle = CocoRle.Encode(new RegionMask(64, 64, o2.VisibleMask.Select(v => v != 0 ? RegionMask.Inside : (byte)0).ToArray()));
        var b1 = scene1.Objects[0].Box;
        var b2 = o2.Box;

        var good = new List<(string Id, string Image, JsonNode Region, string? Instruction)>
        {
            ("box", "images/scene1.png", Box(b1.X0, b1.Y0, b1.X1, b1.Y1), null),
            ("mask", "images/scene1.png", new JsonObject { ["mask"] = "mask1.png" }, null),
            ("polygon", "images/scene2.png", new JsonObject { ["polygon"] = new JsonArray(b2.X0, b2.Y0, b2.X1, b2.Y0, b2.X0, b2.Y1) }, null),
            ("rle", "images/scene2.png", new JsonObject { ["rle"] = new JsonObject { ["size"] = new JsonArray(rle.Height, rle.Width), ["counts"] = new JsonArray(rle.Counts.Select(c => (JsonNode)c).ToArray()) } }, null),
            ("scribble", "images/scene1-copy.png", new JsonObject { ["scribble"] = new JsonObject { ["points"] = new JsonArray(5, 5, 40, 40, 60, 10), ["width"] = 4 } }, null),
            ("whole", "images/scene1-copy.png", new JsonObject { ["whole"] = true }, null),
            ("union", "images/scene2.png", new JsonArray(Box(0, 0, 10, 10), Box(50, 50, 64, 64)), null),
            ("normalized-box", "images/scene1.png", new JsonObject { ["box"] = new JsonArray(0.25, 0.25, 0.75, 0.75), ["normalized"] = true }, null),
            ("instruction", "images/scene2.png", Box(b2.X0, b2.Y0, b2.X1, b2.Y1), "what color is it?"),
            ("absolute-path", Path.Combine(folder, "images", "scene1.png"), Box(0, 0, 32, 32), null),
        };
        var bad = new List<(string Id, string Image, JsonNode Region)>
        {
            ("missing-image", "images/missing.png", Box(0, 0, 10, 10)),
            ("corrupt-image", "images/corrupt.png", Box(0, 0, 10, 10)),
            ("two-point-polygon", "images/scene1.png", new JsonObject { ["polygon"] = new JsonArray(1, 2, 3, 4) }),
            ("unknown-region-kind", "images/scene1.png", new JsonObject { ["circle"] = 3 }),
            ("box-outside", "images/scene1.png", Box(500, 500, 600, 600)),
            ("rle-wrong-size", "images/scene2.png", new JsonObject { ["rle"] = new JsonObject { ["size"] = new JsonArray(10, 10), ["counts"] = new JsonArray(0, 100) } }),
            ("mask-missing", "images/scene2.png", new JsonObject { ["mask"] = "no-such-mask.png" }),
        };

        var lines = new List<string>();
        var goodIds = new List<string>();
        var allIds = new List<string>();
        for (int r = 0; r < repeat; r++)
        {
            string suffix = repeat == 1 ? "" : $"-{r:D3}";
            foreach (var (id, image, region, instruction) in good)
            {
                var line = new JsonObject { ["id"] = id + suffix, ["image"] = image, ["region"] = region.DeepClone() };
                if (instruction != null) line["instruction"] = instruction;
                lines.Add(line.ToJsonString());
                goodIds.Add(id + suffix);
            }
        }
        if (withBadItems)
            foreach (var (id, image, region) in bad)
                lines.Add(new JsonObject { ["id"] = id, ["image"] = image, ["region"] = region.DeepClone() }.ToJsonString());
        allIds.AddRange(goodIds);
        if (withBadItems) allIds.AddRange(bad.Select(b => b.Id));
        string input = Path.Combine(folder, "items.jsonl");
        File.WriteAllLines(input, lines);
        return new BatchDataset(folder, input, goodIds, allIds);
    }

    static JsonObject Box(double x0, double y0, double x1, double y1) => new() { ["box"] = new JsonArray(x0, y0, x1, y1) };

    /// <summary>Every line of a batch output, strictly: each ends with '\n' and is a JSON object with a string id.</summary>
    public static List<JsonObject> ReadRecords(string path)
    {
        string text = File.ReadAllText(path);
        Assert.True(text.Length == 0 || text.EndsWith('\n'), $"{path} does not end with a newline (torn last line)");
        var records = new List<JsonObject>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var node = JsonNode.Parse(line) as JsonObject;
            Assert.True(node != null, $"not a JSON object: {line}");
            Assert.True(node!["id"]?.GetValueKind() is JsonValueKind.String or JsonValueKind.Number, $"no string or integer id: {line}");
            records.Add(node);
        }
        return records;
    }
}
