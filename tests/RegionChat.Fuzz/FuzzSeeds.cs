using System.Text;
using RegionChat.Data.Regions;
using RegionChat.Llm.Gguf;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Fuzz;

/// <summary>The starting corpus: small valid inputs of each target, from which AFL++ mutates.</summary>
internal static class FuzzSeeds
{
    public static int Write(string dir)
    {
        Write(dir, "region-json", new Dictionary<string, string>
        {
            ["box"] = """{"box": [1, 2, 30, 40]}""",
            ["box-normalized"] = """{"box": [0.1, 0.2, 0.5, 0.9], "normalized": true}""",
            ["polygon"] = """{"polygon": [1, 1, 30, 2, 10, 30], "fill": "nonzero"}""",
            ["polygon-pairs"] = """{"polygon": [[1, 1], [40, 2], [20, 40]]}""",
            ["scribble"] = """{"scribble": {"points": [1, 1, 30, 30, 5, 20], "width": 3}}""",
            ["rle-counts"] = """{"rle": {"size": [48, 64], "counts": [100, 40, 2000]}}""",
            ["rle-string"] = """{"rle": {"size": [4, 5], "counts": "34c0"}}""",
            ["union"] = """[{"box": [1, 2, 3, 4]}, {"polygon": [[1, 1], [9, 2], [5, 8]]}, {"whole": true}]""",
        }.ToDictionary(p => p.Key + ".json", p => Encoding.UTF8.GetBytes(p.Value)));

        var mask = new byte[12 * 9];
        for (int i = 0; i < mask.Length; i++) mask[i] = (byte)((i * 7 % 5) < 2 ? 1 : 0);
        Write(dir, "rle", new Dictionary<string, byte[]>
        {
            ["small.rle"] = [12, 9, .. Encoding.Latin1.GetBytes(CocoRle.Encode(mask, 12, 9).ToCompressedString())],
            ["square.rle"] = [4, 5, .. "34c0"u8.ToArray()],
        });

        Write(dir, "image", new Dictionary<string, IImageEncoder>
        {
            ["a.png"] = new PngEncoder(), ["a.jpg"] = new JpegEncoder(), ["a.gif"] = new GifEncoder(), ["a.bmp"] = new BmpEncoder(),
            ["a.webp"] = new WebpEncoder(), ["lossless.webp"] = new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
        }.ToDictionary(p => p.Key, p => Encode(p.Value)));

        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(["a", "b"]));
        w.AddUInt32("llama.context_length", 64);
        w.AddTensor("t", [8, 2], GgmlType.F32, new float[16]);
        using var gguf = new MemoryStream();
        w.Write(gguf);
        Write(dir, "gguf", new Dictionary<string, byte[]> { ["tiny.gguf"] = gguf.ToArray() });

        Write(dir, "answer-format", new Dictionary<string, string>
        {
            ["json-object.txt"] = "\0 {\"a\": [1, -2.5e3, \"x\\u00e9\", true, null, {}]}",
            ["schema.txt"] = """
                {"type": "object", "properties": {"size": {"enum": ["small", "large"]}, "n": {"type": "integer"},
                 "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 2}, "note": {"type": ["string", "null"], "maxLength": 5}},
                 "required": ["size", "n"], "$defs": {"tag": {"type": "string", "minLength": 1}}}
                """ + "\0" + """{"size": "small",\n  "n": 12, "tags": ["a\"b"], "note": null}""",
            ["any-of.txt"] = """
                {"anyOf": [{"type": "array", "items": {"oneOf": [{"const": 1}, {"type": "string"}]}}, {"allOf": [{"$ref": "#/$defs/o"}]},
                 {"type": "null"}], "$defs": {"o": {"type": "object", "properties": {"a": {"type": ["integer", "boolean"]}}}}}
                """ + "\0" + """[1, "x"]""",
            ["regex.txt"] = "re:^(a |the )?(small|large) [a-z]+\\d{1,3}(?:[^x-z]|\\.)*?\u00e9?.{0,2}$\0 a small red42q\u00e9!",
        }.ToDictionary(p => p.Key, p => Encoding.UTF8.GetBytes(p.Value)));
        Console.WriteLine($"seeds written under {dir}");
        return 0;
    }

    static byte[] Encode(IImageEncoder encoder)
    {
        using var image = new Image<Rgb24>(13, 9);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                image[x, y] = new Rgb24((byte)(x * 19), (byte)(y * 27), (byte)((x ^ y) * 9));
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    static void Write(string dir, string target, Dictionary<string, byte[]> files)
    {
        string folder = Path.Combine(dir, target);
        Directory.CreateDirectory(folder);
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }
}
