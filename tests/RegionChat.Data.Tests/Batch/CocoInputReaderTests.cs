using System.Text.Json;
using RegionChat.TestSupport;
using RegionChat.Data.Batch;
using RegionChat.Data.Shapes;
using RegionChat.Vision.Regions;

namespace RegionChat.Data.Tests.Batch;

public class CocoInputReaderTests
{
    [Fact]
    public void The_shapes_export_reads_as_one_item_per_annotation_whose_region_draws_the_visible_mask()
    {
        using var dir = new TempDir();
        var export = ShapesExporter.Export(dir.File("shapes"), 1_000_000_000, 6, coco: true);

        var (format, items) = BatchInputFiles.Read(export.CocoPath!);

        Assert.Equal(BatchInputFormat.Coco, format);
        Assert.Equal(export.Regions, items.Count);
        using var coco = JsonDocument.Parse(File.ReadAllText(export.CocoPath!));
        var annotations = coco.RootElement.GetProperty("annotations").EnumerateArray().ToArray();
        var files = coco.RootElement.GetProperty("images").EnumerateArray()
            .ToDictionary(i => i.GetProperty("id").GetInt32(), i => i.GetProperty("file_name").GetString()!);
        int polygons = 0, rles = 0;
        for (int k = 0; k < items.Count; k++)
        {
            var a = annotations[k];
            var item = items[k];
            Assert.Equal(a.GetProperty("id").GetInt32().ToString(), item.Id);
            Assert.Equal(Path.Combine(export.Folder, files[a.GetProperty("image_id").GetInt32()]), item.ImagePath);
            Assert.Null(item.Instruction);
            bool isPolygon = a.GetProperty("segmentation").ValueKind == JsonValueKind.Array;
            if (isPolygon) polygons++; else rles++;
            Assert.True(item.Region.TryGetProperty(isPolygon ? "polygon" : "rle", out _), item.Region.GetRawText());

            // The region drawn at the image size is the exported visible mask, up to a polygon's edge pixels.
            var mask = RegionJson.Parse(item.Region).Rasterize(64, 64);
            var expected = MaskRegion.Load(Path.Combine(export.Folder, a.GetProperty("mask_file").GetString()!)).Rasterize(64, 64);
            int differing = mask.Data.Zip(expected.Data).Count(p => (p.First != 0) != (p.Second != 0));
            Assert.True(isPolygon ? differing <= expected.Data.Count(v => v != 0) / 4 : differing == 0,
                $"annotation {item.Id} ({(isPolygon ? "polygon" : "RLE")}): {differing} pixels differ from its mask file");
        }
        Assert.True(polygons > 0 && rles > 0, $"the export should hold both kinds: {polygons} polygons, {rles} RLEs");
    }

    [Fact]
    public void Box_mode_turns_the_bbox_into_corners_and_several_polygons_into_a_union()
    {
        using var dir = new TempDir();
        string path = dir.File("coco.json");
        File.WriteAllText(path, """
            {"images": [{"id": 7, "file_name": "img/a.png", "width": 40, "height": 30}],
             "annotations": [
               {"id": 1, "image_id": 7, "bbox": [2.5, 3, 10, 20], "segmentation": [[0,0, 10,0, 10,10], [20,20, 30,20, 30,29]]},
               {"id": "two", "image_id": 7, "bbox": [0, 0, 5, 5], "segmentation": {"size": [30, 40], "counts": [5, 10, 1185]}}]}
            """);

        var boxes = CocoInputReader.ReadFile(path, CocoRegionSource.Box);
        Assert.Equal("{\"box\":[2.5,3,12.5,23]}", boxes[0].Region.GetRawText());
        Assert.Equal("{\"box\":[0,0,5,5]}", boxes[1].Region.GetRawText());
        Assert.Equal(("1", "two"), (boxes[0].Id, boxes[1].Id));

        var masks = CocoInputReader.ReadFile(path, CocoRegionSource.Mask, imageRoot: dir.File("elsewhere"));
        Assert.Equal(Path.Combine(dir.Path, "elsewhere", "img", "a.png"), masks[0].ImagePath);
        var union = Assert.IsType<UnionRegion>(RegionJson.Parse(masks[0].Region));
        Assert.Equal(2, union.Parts.Count);
        Assert.Equal(10, RegionJson.Parse(masks[1].Region).Rasterize(40, 30).Data.Count(v => v != 0));
    }

    [Theory]
    [InlineData("""{"images": [], "annotations": []}""", "\"annotations\" is empty")]
    [InlineData("""{"annotations": []}""", "\"images\" must be an array")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 1, "image_id": 2, "bbox": [0,0,1,1], "segmentation": [[0,0,1,0,1,1]]}]}""", "image_id \"2\" is not in \"images\"")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 1, "image_id": 1, "bbox": [0,0,1,1]}]}""", "no \"segmentation\"")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 1, "image_id": 1, "segmentation": []}]}""", "\"segmentation\" is empty")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0,0,1,0,1,1]]}, {"id": 1, "image_id": 1, "segmentation": [[0,0,1,0,1,1]]}]}""", "annotation \"1\": the id is used by another annotation")]
    [InlineData("""{"images": [{"id": 1}], "annotations": []}""", "\"file_name\" must be a non-empty string")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1}]}""", "annotation #1: \"id\" must be")]
    [InlineData("{\"images\": [", "not valid JSON")]
    public void Structural_problems_fail_the_file_naming_the_annotation(string content, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("coco.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => CocoInputReader.ReadFile(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains("coco.json", e.Message);
    }

    [Fact]
    public void A_box_mode_annotation_without_a_bbox_fails()
    {
        using var dir = new TempDir();
        string path = dir.File("coco.json");
        File.WriteAllText(path, """{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 3, "image_id": 1, "bbox": [1, 2]}]}""");
        var e = Assert.Throws<InvalidDataException>(() => CocoInputReader.ReadFile(path, CocoRegionSource.Box));
        Assert.Contains("annotation \"3\": \"bbox\" must be [x, y, width, height]", e.Message);
    }

    [Fact]
    public void Jsonl_and_coco_are_told_apart_by_the_first_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.jsonl"), "\n{\"id\": \"a\", \"image\": \"x.png\", \"region\": {\"whole\": true}}\n");
        File.WriteAllText(dir.File("pretty.json"), "{\n  \"images\": [{\"id\": 1, \"file_name\": \"x.png\"}],\n  \"annotations\": [{\"id\": 1, \"image_id\": 1, \"bbox\": [0, 0, 2, 2]}]\n}\n");
        File.WriteAllText(dir.File("oneline.json"), "{\"images\": [{\"id\": 1, \"file_name\": \"x.png\"}], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"bbox\": [0, 0, 2, 2]}]}");
        File.WriteAllText(dir.File("empty.jsonl"), "\n\n");

        Assert.Equal(BatchInputFormat.Jsonl, BatchInputFiles.Detect(dir.File("a.jsonl")));
        Assert.Equal(BatchInputFormat.Coco, BatchInputFiles.Detect(dir.File("pretty.json")));
        Assert.Equal(BatchInputFormat.Coco, BatchInputFiles.Detect(dir.File("oneline.json")));
        Assert.Single(BatchInputFiles.Read(dir.File("pretty.json"), CocoRegionSource.Box).Items);
        Assert.Contains("is empty", Assert.Throws<InvalidDataException>(() => BatchInputFiles.Detect(dir.File("empty.jsonl"))).Message);
        // COCO-only choices are refused for JSONL input rather than ignored.
        Assert.Contains("--region-from box applies to COCO input",
            Assert.Throws<ArgumentException>(() => BatchInputFiles.Read(dir.File("a.jsonl"), CocoRegionSource.Box)).Message);
    }
}
