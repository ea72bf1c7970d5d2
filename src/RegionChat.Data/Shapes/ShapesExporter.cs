using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Data.Shapes.Internal;

namespace RegionChat.Data.Shapes;

/// <summary>What <see cref="ShapesExporter.Export"/> wrote.</summary>
public sealed record ShapesExportResult(string Folder, int Scenes, int Regions, string JsonlPath, string? CocoPath);

/// <summary>
/// Writes scenes of consecutive seeds to a folder:
/// <list type="bullet">
/// <item><c>images/scene-{seed}.png</c> (64×64 RGB) and <c>masks/scene-{seed}-{index}.png</c> (visible mask, 255 = region,
/// index = draw order);</item>
/// <item><c>shapes.jsonl</c>, valid <c>caption-batch</c> input as it is: per scene one line with <c>"scope":"image"</c> and
/// <c>"region":{"whole":true}</c>, then one line per object with <c>"scope":"region"</c>, <c>"region":{"mask":"masks/…png"}</c>
/// and <c>"box":[x0,y0,x1,y1]</c> (the square the shape is drawn in, exclusive end); each line has id, seed, split, image,
/// width, height, caption and qa [{question, answer}];</item>
/// <item>optionally <c>coco.json</c>: images (with seed and caption), categories (the five shapes, ids 1..5 in
/// <see cref="ShapeKind"/> order) and annotations with bbox [x, y, w, h] of the drawn square, area = visible pixels,
/// iscrowd 0, caption, color, size_class, mask_file and segmentation. The segmentation is the exact polygon outline for an
/// unoccluded square, triangle or diamond, and otherwise (circles, crosses, occluded objects) the compressed RLE
/// {"size":[64,64],"counts":"…"} of the visible mask, so every annotation describes the visible region.</item>
/// </list>
/// </summary>
public static class ShapesExporter
{
    public const string JsonlFile = "shapes.jsonl";
    public const string CocoFile = "coco.json";

    static readonly JsonWriterOptions Compact = new() { Indented = false };

    public static ShapesExportResult Export(string folder, long firstSeed, int count, bool coco = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1");
        ShapesSeeds.SplitOf(firstSeed);
        ShapesSeeds.SplitOf(firstSeed + (count - 1));

        Directory.CreateDirectory(Path.Combine(folder, "images"));
        Directory.CreateDirectory(Path.Combine(folder, "masks"));
        string jsonlPath = Path.Combine(folder, JsonlFile);
        int regions = 0;
        using (var jsonl = new StreamWriter(jsonlPath, false, new System.Text.UTF8Encoding(false)) { NewLine = "\n" })
        {
            foreach (var scene in ShapesGenerator.GenerateMany(firstSeed, count))
            {
                scene.SavePng(Path.Combine(folder, ImageFile(scene.Seed)));
                jsonl.WriteLine(Line(scene, null));
                foreach (var o in scene.Objects)
                {
                    ShapesPng.SaveMaskPng(o.VisibleMask, Path.Combine(folder, MaskFile(scene.Seed, o.Index)));
                    jsonl.WriteLine(Line(scene, o));
                    regions++;
                }
            }
        }

        string? cocoPath = null;
        if (coco)
        {
            cocoPath = Path.Combine(folder, CocoFile);
            WriteCoco(cocoPath, firstSeed, count);
        }
        return new ShapesExportResult(Path.GetFullPath(folder), count, regions, jsonlPath, cocoPath);
    }

    public static string ImageFile(long seed) => $"images/scene-{seed}.png";
    public static string MaskFile(long seed, int index) => $"masks/scene-{seed}-{index}.png";

    static string Line(ShapesScene scene, ShapesObject? o)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            w.WriteString("id", o == null ? $"scene-{scene.Seed}" : $"scene-{scene.Seed}-{o.Index}");
            w.WriteNumber("seed", scene.Seed);
            w.WriteString("split", ShapesSeeds.SplitOf(scene.Seed).ToString().ToLowerInvariant());
            w.WriteString("image", ImageFile(scene.Seed));
            w.WriteNumber("width", scene.Width);
            w.WriteNumber("height", scene.Height);
            w.WriteString("scope", o == null ? "image" : "region");
            // "region" in the region JSON grammar (one kind per object), so the file feeds caption-batch as it is.
            w.WriteStartObject("region");
            if (o == null) w.WriteBoolean("whole", true);
            else w.WriteString("mask", MaskFile(scene.Seed, o.Index));
            w.WriteEndObject();
            if (o == null) w.WriteNumber("objects", scene.Objects.Count);
            else
            {
                WriteInts(w, "box", o.Box.ToCorners());
                w.WriteNumber("index", o.Index);
                w.WriteString("shape", o.Shape.Word());
                w.WriteString("color", o.Color.Word());
                w.WriteString("size", o.Size.Word());
                w.WriteNumber("area", o.Area);
                w.WriteNumber("visible_area", o.VisibleArea);
            }
            w.WriteString("caption", o?.Caption ?? scene.Caption);
            WriteQa(w, o?.Qa ?? scene.Qa);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void WriteCoco(string path, long firstSeed, int count)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, Compact);
        w.WriteStartObject();
        w.WriteStartObject("info");
        w.WriteString("description", "RegionChat shapes world");
        w.WriteNumber("first_seed", firstSeed);
        w.WriteNumber("count", count);
        w.WriteEndObject();

        w.WriteStartArray("categories");
        foreach (var shape in ShapeWords.AllShapes)
        {
            w.WriteStartObject();
            w.WriteNumber("id", CategoryId(shape));
            w.WriteString("name", shape.Word());
            w.WriteString("supercategory", "shape");
            w.WriteEndObject();
        }
        w.WriteEndArray();

        // Two passes over the seeds (generation is cheap) so nothing is held in memory for large exports.
        w.WriteStartArray("images");
        for (int i = 0; i < count; i++)
        {
            var scene = ShapesGenerator.Generate(firstSeed + i);
            w.WriteStartObject();
            w.WriteNumber("id", i + 1);
            w.WriteString("file_name", ImageFile(scene.Seed));
            w.WriteNumber("width", scene.Width);
            w.WriteNumber("height", scene.Height);
            w.WriteNumber("seed", scene.Seed);
            w.WriteString("caption", scene.Caption);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("annotations");
        int annotationId = 0;
        for (int i = 0; i < count; i++)
        {
            var scene = ShapesGenerator.Generate(firstSeed + i);
            foreach (var o in scene.Objects)
            {
                w.WriteStartObject();
                w.WriteNumber("id", ++annotationId);
                w.WriteNumber("image_id", i + 1);
                w.WriteNumber("category_id", CategoryId(o.Shape));
                WriteInts(w, "bbox", o.Box.ToCocoBbox());
                w.WriteNumber("area", o.VisibleArea);
                w.WriteNumber("iscrowd", 0);
                w.WritePropertyName("segmentation");
                if (ShapeOutline.HasPolygon(o.Shape) && o.VisibleArea == o.Area)
                {
                    w.WriteStartArray();
                    w.WriteStartArray();
                    foreach (double v in ShapeOutline.Polygon(o.Shape, o.Box)) w.WriteNumberValue(v);
                    w.WriteEndArray();
                    w.WriteEndArray();
                }
                else
                {
                    w.WriteStartObject();
                    WriteInts(w, "size", [scene.Height, scene.Width]);
                    w.WriteString("counts", CocoRle.Encode(o.VisibleMask, scene.Height, scene.Width).ToCompressedString());
                    w.WriteEndObject();
                }
                w.WriteString("caption", o.Caption);
                w.WriteString("color", o.Color.Word());
                w.WriteString("size_class", o.Size.Word());
                w.WriteString("mask_file", MaskFile(scene.Seed, o.Index));
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static int CategoryId(ShapeKind shape) => (int)shape + 1;

    static void WriteInts(Utf8JsonWriter w, string name, int[] values)
    {
        w.WriteStartArray(name);
        foreach (int v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    static void WriteQa(Utf8JsonWriter w, IReadOnlyList<ShapesQa> qa)
    {
        w.WriteStartArray("qa");
        foreach (var pair in qa)
        {
            w.WriteStartObject();
            w.WriteString("question", pair.Question);
            w.WriteString("answer", pair.Answer);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
