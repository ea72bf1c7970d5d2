using System.Text;
using RegionChat.Data.Regions;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Fuzz;

/// <summary>The input surfaces, each as "bytes in; a result or the documented refusal out". Any other exception escapes
/// and AFL++ records the input as a crash.</summary>
internal static class FuzzTargets
{
    /// <summary>Target names. No type of an instrumented assembly may run before SharpFuzz's Run has set up AFL's shared
    /// memory (the instrumentation writes there): the budget and limits live in <see cref="Settings"/>, made on first use.</summary>
    public static readonly IReadOnlyList<string> Names = ["region-json", "rle", "image", "gguf", "answer-format"];

    public static void Run(string target, byte[] data)
    {
        switch (target)
        {
            case "region-json": RegionJson(data); break;
            case "rle": Rle(data); break;
            case "image": Image(data); break;
            case "gguf": Gguf(data); break;
            case "answer-format": AnswerFormat(data); break;
            default: throw new ArgumentException($"unknown target {target}", nameof(target));
        }
    }

    static class Settings
    {
        public static readonly RegionBudget Budget = new() { MaxPoints = 2000, MaxScribbleCost = 200_000, MaxUnionParts = 16, MaxUnionDepth = 3 };
        public static readonly ImageLimits Limits = new() { MaxPixels = 1_000_000, MaxSide = 4096, MaxBytes = 1 << 20 };
        public static readonly string GgufPath = Path.Combine(Path.GetTempPath(), $"regionchat-fuzz-{Environment.ProcessId}.gguf");
    }

    /// <summary>Region JSON parsed, then drawn on a 64×48 image. Mask files are left out: a path could name any file.</summary>
    static void RegionJson(byte[] data)
    {
        try
        {
            var description = RegionDescription.Parse(Encoding.UTF8.GetString(data), "/nonexistent");
            if (HasMaskFile(description)) return;
            Region.From(description, Settings.Limits, Settings.Budget).Rasterize(64, 48);
        }
        catch (Exception e) when (e is InvalidRegionException or InvalidImageException)
        {
        }
    }

    static bool HasMaskFile(RegionDescription d) =>
        d is RegionDescription.MaskFile || (d is RegionDescription.Union u && u.Parts.Any(HasMaskFile));

    /// <summary>Bytes 0 and 1 are the height and width (0–63), the rest the compressed RLE string.</summary>
    static void Rle(byte[] data)
    {
        if (data.Length < 2) return;
        try
        {
            var rle = CocoRle.FromString(data[0] % 64, data[1] % 64, Encoding.Latin1.GetString(data, 2, data.Length - 2));
            rle.Decode(1);
            new RleRegion(rle).Rasterize(Math.Max(1, rle.Width), Math.Max(1, rle.Height));
        }
        catch (InvalidRegionException)
        {
        }
    }

    static void Image(byte[] data)
    {
        try
        {
            using var image = ImageLoader.Decode(data, Settings.Limits);
            if ((long)image.Width * image.Height > Settings.Limits.MaxPixels) throw new InvalidOperationException("decoded past the pixel limit");
        }
        catch (InvalidImageException)
        {
        }
    }

    static void Gguf(byte[] data)
    {
        File.WriteAllBytes(Settings.GgufPath, data);
        try
        {
            using var file = GgufFile.Open(Settings.GgufPath);
        }
        catch (GgufFormatException)
        {
        }
        finally
        {
            File.Delete(Settings.GgufPath);   // AFL++ kills the process at the end; fuzz.sh removes a file it leaves then
        }
    }

    /// <summary>A JSON Schema (or, when empty, JSON mode; or "re:" and a regular expression), a zero byte, then an answer
    /// fed byte by byte as the engine does: each byte tested first, taken only when allowed.</summary>
    static void AnswerFormat(byte[] data)
    {
        int split = Array.IndexOf(data, (byte)0);
        if (split < 0) return;
        OutputFormat format;
        try
        {
            string text = Encoding.UTF8.GetString(data, 0, split);
            format = split == 0 ? OutputFormat.JsonObject
                : text.StartsWith("re:", StringComparison.Ordinal) ? OutputFormat.Regex(text[3..]) : OutputFormat.JsonSchema(text);
        }
        catch (ArgumentException)
        {
            return;
        }
        var cursor = format.Start();
        for (int i = split + 1; i < data.Length; i++)
        {
            if (!cursor.Allows(data.AsSpan(i, 1))) break;
            cursor.Advance(data.AsSpan(i, 1));
        }
        if (cursor.Closed && !cursor.Complete) throw new InvalidOperationException("closed before the answer was whole");
    }
}
