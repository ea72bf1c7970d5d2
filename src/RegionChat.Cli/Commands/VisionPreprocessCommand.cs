using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using TorchSharp;
using TorchSharp.PyBridge;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat vision preprocess`: image + optional region → pixel_values [3,R,R] and alpha [1,R,R] in a safetensors file,
/// the exact inputs the Alpha-CLIP encoder gets (for checking against the Python reference, or feeding other tools).
/// </summary>
internal static class VisionPreprocessCommand
{
    public static Command Create()
    {
        var image = new Option<FileInfo>("--image") { Description = "Image file (PNG, JPEG, WebP, BMP, GIF).", Required = true };
        var mask = new Option<FileInfo?>("--mask") { Description = "Region as a mask image of the same size (grey ≥ 128 = inside; in a 0/1 mask, the 1s)." };
        var box = new Option<string?>("--box") { Description = "Region as a pixel box x0,y0,x1,y1." };
        var polygon = new Option<string?>("--polygon") { Description = "Region as a polygon x,y,x,y,… in pixels (even-odd fill)." };
        var rle = new Option<FileInfo?>("--rle") { Description = "Region as a COCO RLE JSON file {\"size\": [h,w], \"counts\": …}." };
        var region = new Option<string?>("--region")
        {
            Description = "Region as JSON (inline, or a .json file): {\"box\":…}, {\"polygon\":…}, {\"rle\":…}, {\"scribble\":…}, " +
                "{\"mask\":…}, or a list (union).",
        };
        var size = new Option<int>("--size") { Description = "Output resolution R.", DefaultValueFactory = _ => 336 };
        var mode = new Option<string>("--mode") { Description = "pad (LLaVA-1.5) or crop (CLIP).", DefaultValueFactory = _ => "pad" };
        mode.AcceptOnlyFromAmong("pad", "crop");
        var output = new Option<FileInfo>("--output") { Description = "Output .safetensors file.", Required = true };

        var command = new Command("preprocess", "Preprocess an image and a region into Alpha-CLIP inputs (pixel_values, alpha) as safetensors.");
        foreach (var o in new Option[] { image, mask, box, polygon, rle, region, size, mode, output }) command.Options.Add(o);

        command.SetAction(parseResult =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            try
            {
                int resolution = parseResult.GetValue(size);
                if (resolution is < 1 or > PreprocessOptions.MaxResolution)
                    throw new ArgumentException($"--size must be between 1 and {PreprocessOptions.MaxResolution}, got {resolution}");

                var given = new (string Name, object? Value)[]
                {
                    ("--mask", parseResult.GetValue(mask)), ("--box", parseResult.GetValue(box)), ("--polygon", parseResult.GetValue(polygon)),
                    ("--rle", parseResult.GetValue(rle)), ("--region", parseResult.GetValue(region)),
                }.Where(g => g.Value != null).ToList();
                if (given.Count > 1)
                    throw new ArgumentException($"give at most one region option, got {string.Join(" and ", given.Select(g => g.Name))}");

                Region? theRegion = given.Count == 0 ? null : given[0].Value switch
                {
                    FileInfo f when given[0].Name == "--mask" => MaskRegion.Load(f.FullName),
                    FileInfo f => ReadRleFile(f.FullName),
                    string s when given[0].Name == "--box" => BoxFrom(Numbers(s, "box")),
                    string s when given[0].Name == "--polygon" => new PolygonRegion(RegionPoint.FromFlat(Numbers(s, "polygon"), "polygon")),
                    string s => s.TrimStart().StartsWith('{') || s.TrimStart().StartsWith('[') ? RegionJson.Parse(s) : RegionJson.ParseFile(s),
                    _ => null,
                };

                var options = new PreprocessOptions
                {
                    Resolution = resolution,
                    Mode = parseResult.GetValue(mode) == "crop" ? SquareMode.Crop : SquareMode.Pad,
                };
                using var picture = ImageLoader.Load(parseResult.GetValue(image)!.FullName);
                var regionMask = theRegion is null or WholeImageRegion ? null : theRegion.Rasterize(picture.Width, picture.Height);
                var result = new ClipPreprocessor(options).Process(picture, regionMask);

                string outPath = parseResult.GetValue(output)!.FullName;
                Save(result, outPath);
                string regionText = regionMask == null ? "whole image"
                    : $"{theRegion!.Kind}, {regionMask.Area():N0} of {picture.Width}×{picture.Height} pixels inside";
                stdout.WriteLine($"wrote {outPath}: pixel_values [3,{resolution},{resolution}], alpha [1,{resolution},{resolution}] " +
                                 $"({options.Mode.ToString().ToLowerInvariant()} mode, image {picture.Width}×{picture.Height}, region: {regionText})");
                return 0;
            }
            catch (Exception e) when (e is InvalidImageException or InvalidRegionException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine("error: " + e.Message.ReplaceLineEndings(" "));
                return 1;
            }
        });
        return command;
    }

    static List<double> Numbers(string text, string field)
    {
        var list = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                throw new InvalidRegionException(field, InvalidRegionReason.Malformed,
                    $"'{part}' is not a number (expected comma-separated numbers, e.g. 10,20,110,90)");
            list.Add(v);
        }
        return list;
    }

    static BoxRegion BoxFrom(List<double> v) => v.Count == 4
        ? new BoxRegion(v[0], v[1], v[2], v[3])
        : throw new InvalidRegionException("box", InvalidRegionReason.Malformed, $"needs x0,y0,x1,y1, got {v.Count} numbers");

    /// <summary>A COCO RLE object, or a region description holding one under "rle".</summary>
    static RleRegion ReadRleFile(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var rle = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("rle", out var inner) ? inner : root;
            return new RleRegion(RegionJson.ParseRle(rle));
        }
        catch (JsonException e)
        {
            throw new InvalidRegionException("rle", InvalidRegionReason.Malformed, $"'{path}' is not valid JSON: {e.Message}", e);
        }
    }

    static void Save(PreprocessedImage result, string path)
    {
        using var pixels = result.PixelValuesTensor();
        using var alpha = result.AlphaTensor();
        using var stream = File.Create(path); // truncates an existing file
        Safetensors.SaveStateDict(stream, new Dictionary<string, torch.Tensor> { ["pixel_values"] = pixels, ["alpha"] = alpha });
    }
}
