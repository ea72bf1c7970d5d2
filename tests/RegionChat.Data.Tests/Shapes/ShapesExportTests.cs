using System.Text.Json;
using RegionChat.TestSupport;
using RegionChat.Data.Shapes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesExportTests
{
    const long First = 1_000_000_000;
    const int Count = 40;

    [Fact]
    public void Png_of_a_scene_decodes_to_the_same_pixels()
    {
        using var dir = new TempDir();
        var scene = ShapesGenerator.Generate(123);
        scene.SavePng(dir.File("s.png"));
        Assert.Equal(scene.Pixels, ReadRgb(dir.File("s.png")));

        scene.SavePng(dir.File("big.png"), 6);
        using var big = Image.Load<Rgb24>(dir.File("big.png"));
        Assert.Equal(384, big.Width);
        for (int y = 0; y < 384; y += 5)
            for (int x = 0; x < 384; x += 7)
            {
                int p = 3 * ((y / 6) * 64 + x / 6);
                Assert.Equal(new Rgb24(scene.Pixels[p], scene.Pixels[p + 1], scene.Pixels[p + 2]), big[x, y]);
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => scene.SavePng(dir.File("x.png"), 0));
    }

    [Fact]
    public void Export_writes_images_masks_and_jsonl_that_read_back()
    {
        using var dir = new TempDir();
        var result = ShapesExporter.Export(dir.Path, First, Count);
        var scenes = ShapesGenerator.GenerateMany(First, Count).ToList();
        Assert.Equal(Count, result.Scenes);
        Assert.Equal(scenes.Sum(s => s.Objects.Count), result.Regions);
        Assert.Null(result.CocoPath);

        var lines = File.ReadAllLines(result.JsonlPath);
        Assert.Equal(Count + result.Regions, lines.Length);
        int at = 0;
        foreach (var scene in scenes)
        {
            using (var doc = JsonDocument.Parse(lines[at++]))
            {
                var e = doc.RootElement;
                Assert.Equal($"scene-{scene.Seed}", e.GetProperty("id").GetString());
                Assert.Equal("image", e.GetProperty("scope").GetString());
                Assert.Equal("test", e.GetProperty("split").GetString());
                Assert.True(e.GetProperty("region").GetProperty("whole").GetBoolean());
                Assert.Equal(scene.Caption, e.GetProperty("caption").GetString());
                Assert.Equal(scene.Qa, ReadQa(e));
                Assert.Equal(scene.Pixels, ReadRgb(Path.Combine(dir.Path, e.GetProperty("image").GetString()!)));
            }
            foreach (var o in scene.Objects)
            {
                using var doc = JsonDocument.Parse(lines[at++]);
                var e = doc.RootElement;
                Assert.Equal($"scene-{scene.Seed}-{o.Index}", e.GetProperty("id").GetString());
                Assert.Equal("region", e.GetProperty("scope").GetString());
                var region = e.GetProperty("region");
                Assert.Equal(new[] { o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1 }, e.GetProperty("box").EnumerateArray().Select(v => v.GetInt32()));
                Assert.Single(region.EnumerateObject()); // one kind: the mask
                Assert.Equal(o.VisibleMask, ReadMask(Path.Combine(dir.Path, region.GetProperty("mask").GetString()!)));
                Assert.Equal(o.Caption, e.GetProperty("caption").GetString());
                Assert.Equal(o.Qa, ReadQa(e));
                Assert.Equal(o.Shape.ToString().ToLowerInvariant(), e.GetProperty("shape").GetString());
            }
        }
    }

    [Fact]
    public void Coco_json_segmentations_decode_to_the_visible_masks()
    {
        using var dir = new TempDir();
        // a stretch of seeds with occlusions, circles, crosses and every polygon shape
        var result = ShapesExporter.Export(dir.Path, 0, 60, coco: true);
        var scenes = ShapesGenerator.GenerateMany(0, 60).ToList();
        using var doc = JsonDocument.Parse(File.ReadAllBytes(result.CocoPath!));
        var root = doc.RootElement;

        var categories = root.GetProperty("categories").EnumerateArray()
            .ToDictionary(c => c.GetProperty("id").GetInt32(), c => c.GetProperty("name").GetString()!);
        Assert.Equal(new[] { "circle", "square", "triangle", "diamond", "cross" }, categories.OrderBy(c => c.Key).Select(c => c.Value));

        var images = root.GetProperty("images").EnumerateArray().ToList();
        Assert.Equal(60, images.Count);
        var annotations = root.GetProperty("annotations").EnumerateArray().ToList();
        Assert.Equal(scenes.Sum(s => s.Objects.Count), annotations.Count);
        Assert.Equal(annotations.Count, annotations.Select(a => a.GetProperty("id").GetInt32()).Distinct().Count());

        int polygons = 0, rles = 0, at = 0;
        for (int i = 0; i < scenes.Count; i++)
        {
            var scene = scenes[i];
            var image = images[i];
            Assert.Equal(scene.Caption, image.GetProperty("caption").GetString());
            Assert.Equal(64, image.GetProperty("width").GetInt32());
            Assert.True(File.Exists(Path.Combine(dir.Path, image.GetProperty("file_name").GetString()!)));
            foreach (var o in scene.Objects)
            {
                var a = annotations[at++];
                Assert.Equal(image.GetProperty("id").GetInt32(), a.GetProperty("image_id").GetInt32());
                Assert.Equal(o.Shape.ToString().ToLowerInvariant(), categories[a.GetProperty("category_id").GetInt32()]);
                Assert.Equal(new[] { o.Box.X0, o.Box.Y0, o.Box.Width, o.Box.Height }, a.GetProperty("bbox").EnumerateArray().Select(v => v.GetInt32()));
                Assert.Equal(o.VisibleArea, a.GetProperty("area").GetInt32());
                Assert.Equal(o.Caption, a.GetProperty("caption").GetString());
                var seg = a.GetProperty("segmentation");
                if (seg.ValueKind == JsonValueKind.Array)
                {
                    polygons++;
                    Assert.Contains(o.Shape, new[] { ShapeKind.Square, ShapeKind.Triangle, ShapeKind.Diamond });
                    var poly = seg.EnumerateArray().Single().EnumerateArray().Select(v => v.GetDouble()).ToArray();
                    Assert.Equal(o.VisibleMask, SceneReference.RasterisePolygon(poly));
                }
                else
                {
                    rles++;
                    Assert.Equal(new[] { 64, 64 }, seg.GetProperty("size").EnumerateArray().Select(v => v.GetInt32()));
                    Assert.Equal(o.VisibleMask, SceneReference.DecodeCompressedRle(seg.GetProperty("counts").GetString()!, 64, 64));
                    Assert.True(o.Shape is ShapeKind.Circle or ShapeKind.Cross || o.VisibleArea < o.Area);
                }
            }
        }
        Assert.True(polygons > 0 && rles > 0, $"{polygons} polygons, {rles} RLEs");
    }

    [Fact]
    public void Export_rejects_bad_parameters()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesExporter.Export(dir.Path, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesExporter.Export(dir.Path, -5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesExporter.Export(dir.Path, long.MaxValue - 1, 3));
        Assert.Throws<ArgumentException>(() => ShapesExporter.Export(" ", 0, 1));
    }

    static IReadOnlyList<ShapesQa> ReadQa(JsonElement e) =>
        e.GetProperty("qa").EnumerateArray()
            .Select(q => new ShapesQa(q.GetProperty("question").GetString()!, q.GetProperty("answer").GetString()!)).ToList();

    static byte[] ReadRgb(string path)
    {
        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(64, image.Width);
        Assert.Equal(64, image.Height);
        var bytes = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                var px = image[x, y];
                int p = 3 * (y * 64 + x);
                (bytes[p], bytes[p + 1], bytes[p + 2]) = (px.R, px.G, px.B);
            }
        return bytes;
    }

    static byte[] ReadMask(string path)
    {
        using var image = Image.Load<L8>(path);
        var mask = new byte[64 * 64];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                byte v = image[x, y].PackedValue;
                Assert.True(v is 0 or 255);
                mask[y * 64 + x] = v == 255 ? (byte)1 : (byte)0;
            }
        return mask;
    }
}
