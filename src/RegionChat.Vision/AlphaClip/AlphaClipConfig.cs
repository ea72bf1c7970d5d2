using System.Text.Json;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>Dimensions of an Alpha-CLIP (OpenAI-CLIP) vision transformer.</summary>
public sealed record AlphaClipConfig(int InputResolution, int PatchSize, int Width, int Layers, int Heads, int OutputDim)
{
    /// <summary>The released ViT-L/14@336 that LLaVA-1.5 uses.</summary>
    public static AlphaClipConfig VitL14At336 { get; } = new(336, 14, 1024, 24, 16, 768);

    /// <summary>The released ViT-B/16 at 224 px.</summary>
    public static AlphaClipConfig VitB16 { get; } = new(224, 16, 768, 12, 12, 512);

    // Far beyond any released model; rejects corrupt configs before they allocate gigabytes.
    const int MaxResolution = 4096, MaxWidth = 16384, MaxLayers = 256;

    public int Grid => InputResolution / PatchSize;

    /// <summary>Tokens per image: one CLS token and grid² patches.</summary>
    public int Tokens => Grid * Grid + 1;

    public int HeadDim => Width / Heads;

    /// <summary>Throws ArgumentException naming the first impossible dimension.</summary>
    public AlphaClipConfig Validate()
    {
        Check(InputResolution is > 0 and <= MaxResolution, $"input_resolution {InputResolution} must be in 1..{MaxResolution}");
        Check(PatchSize > 0 && PatchSize <= InputResolution, $"patch_size {PatchSize} must be in 1..input_resolution ({InputResolution})");
        Check(InputResolution % PatchSize == 0, $"input_resolution {InputResolution} is not a multiple of patch_size {PatchSize}");
        Check(Width is > 0 and <= MaxWidth, $"width {Width} must be in 1..{MaxWidth}");
        Check(Layers is > 0 and <= MaxLayers, $"layers {Layers} must be in 1..{MaxLayers}");
        Check(Heads > 0 && Width % Heads == 0, $"heads {Heads} must be positive and divide width {Width}");
        Check(OutputDim is > 0 and <= MaxWidth, $"output_dim {OutputDim} must be in 1..{MaxWidth}");
        return this;

        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException("Alpha-CLIP config: " + message);
        }
    }

    /// <summary>Reads a JSON object with input_resolution, patch_size, width, layers, heads, output_dim (other keys ignored).</summary>
    public static AlphaClipConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Alpha-CLIP config not found: {path}", path);
        if (new FileInfo(path).Length > 1 << 20) throw new InvalidDataException($"{path}: a 1 MB+ config is not an Alpha-CLIP config");
        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static AlphaClipConfig FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Alpha-CLIP config must be a JSON object");
        var root = doc.RootElement;
        return new AlphaClipConfig(
            Int(root, "input_resolution"), Int(root, "patch_size"), Int(root, "width"),
            Int(root, "layers"), Int(root, "heads"), Int(root, "output_dim")).Validate();

        static int Int(JsonElement root, string key)
        {
            if (!root.TryGetProperty(key, out var v)) throw new InvalidDataException($"Alpha-CLIP config lacks \"{key}\"");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n))
                throw new InvalidDataException($"Alpha-CLIP config \"{key}\" must be an integer, got {v.GetRawText()}");
            return n;
        }
    }

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, int>
    {
        ["input_resolution"] = InputResolution, ["patch_size"] = PatchSize, ["width"] = Width,
        ["layers"] = Layers, ["heads"] = Heads, ["output_dim"] = OutputDim,
    });

    /// <summary>
    /// Reads the architecture off a state dict (released or OpenAI-CLIP names, with or without "visual.").
    /// Heads cannot be read off the weights: it defaults to width/64, as in every released model.
    /// </summary>
    public static AlphaClipConfig InferFrom(IReadOnlyDictionary<string, Tensor> stateDict, int? heads = null)
    {
        var sd = AlphaClipCheckpoint.Normalize(stateDict);
        var conv1 = Get(sd, "conv1.weight", 4);
        var pos = Get(sd, "positional_embedding", 2);
        var proj = Get(sd, "proj", 2);
        int width = checked((int)conv1.shape[0]);
        int patch = checked((int)conv1.shape[^1]);
        long positions = pos.shape[0] - 1;
        int grid = (int)Math.Round(Math.Sqrt(positions));
        if (positions < 1 || (long)grid * grid != positions)
            throw new InvalidDataException($"positional_embedding has {pos.shape[0]} rows; expected 1 + a square number of patches");
        var blockIndex = new Regex(@"^transformer\.resblocks\.(\d+)\.");
        var blocks = sd.Keys.Select(k => blockIndex.Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value)).Distinct().ToList();
        if (blocks.Count == 0) throw new InvalidDataException("state dict has no transformer.resblocks.N.* entries");
        if (blocks.Max() != blocks.Count - 1)
            throw new InvalidDataException($"transformer.resblocks are not numbered 0..{blocks.Count - 1} (highest is {blocks.Max()})");
        int h = heads ?? (width % 64 == 0 ? width / 64
            : throw new ArgumentException($"width {width} is not a multiple of 64: give the number of heads (a config)"));
        return new AlphaClipConfig(grid * patch, patch, width, blocks.Count, h, checked((int)proj.shape[1])).Validate();

        static Tensor Get(Dictionary<string, Tensor> sd, string key, int dims)
        {
            if (!sd.TryGetValue(key, out var t)) throw new InvalidDataException($"state dict lacks '{key}': not an Alpha-CLIP/CLIP vision checkpoint");
            if (t.dim() != dims) throw new InvalidDataException($"'{key}' has shape [{string.Join(", ", t.shape)}]; expected {dims} dimensions");
            return t;
        }
    }

    /// <summary>
    /// Forward FLOPs for <paramref name="batch"/> images (2 per multiply-add): patch and alpha convs, per block the
    /// fused qkv projection, attention scores and weighted sum, output projection and MLP, and the pooled projection.
    /// LayerNorms, activations and additions are left out (they are O(tokens·width), negligible).
    /// </summary>
    public double ForwardFlops(int batch = 1)
    {
        double n = Tokens, w = Width, patches = Grid * Grid, p2 = PatchSize * PatchSize;
        double convs = 2 * patches * (3 * p2) * w + 2 * patches * p2 * w;
        double qkv = 2 * n * w * 3 * w;
        double attention = 2 * n * n * w * 2;   // QKᵀ and AV over all heads
        double outProj = 2 * n * w * w;
        double mlp = 2 * n * w * 4 * w * 2;
        double pooled = 2 * w * OutputDim;
        return batch * (convs + Layers * (qkv + attention + outProj + mlp) + pooled);
    }
}
