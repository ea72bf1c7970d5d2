using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// The trained towers on disk, in a folder:
/// <list type="bullet">
/// <item><c>vision.safetensors</c>: the Alpha-CLIP image tower's state dict under the released Alpha-CLIP key names
/// (float32); <c>vision.json</c>: input_resolution, patch_size, width, layers, heads, output_dim (the keys of the
/// goldens' config.json) plus image_mean, image_std and training notes. Loadable with
/// <c>AlphaClipVisionTransformer.Load(vision.safetensors, AlphaClipConfig.FromJsonFile(vision.json))</c>.</item>
/// <item><c>text.safetensors</c>: the text tower (float32); <c>text.json</c>: context_length, vocab_size, width, layers,
/// heads, output_dim, vocabulary (id order) and logit_scale.</item>
/// </list>
/// </summary>
public static class ClipTowerFiles
{
    public const string VisionWeights = "vision.safetensors", VisionConfig = "vision.json";
    public const string TextWeights = "text.safetensors", TextConfig = "text.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void SaveVision(AlphaClipVisionTransformer model, string folder, JsonObject? extra = null) =>
        SaveVision(model.state_dict(), model.Config, folder, extra);

    /// <summary>Writes a vision state dict (any float dtype; stored as float32) and its config.</summary>
    public static void SaveVision(IReadOnlyDictionary<string, Tensor> stateDict, AlphaClipConfig config, string folder, JsonObject? extra = null)
    {
        Directory.CreateDirectory(folder);
        var json = (JsonObject)JsonNode.Parse(config.ToJson())!;
        json["image_mean"] = new JsonArray(ShapesClipInputs.ImageMean.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
        json["image_std"] = new JsonArray(ShapesClipInputs.ImageStd.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
        json["alpha"] = "(mask - 0.5) / 0.26; whole image = all ones";
        Merge(json, extra);
        WriteWeights(Path.Combine(folder, VisionWeights), stateDict);
        WriteJson(Path.Combine(folder, VisionConfig), json);
    }

    public static void SaveText(ClipTextTransformer model, string folder, double? logitScale = null, JsonObject? extra = null) =>
        SaveText(model.state_dict(), model.Config, model.Tokenizer as ClipTokenizer
            ?? throw new ArgumentException("text.json holds a word list: only a shapes-vocabulary tower is saved this way"), folder, logitScale, extra);

    /// <summary>Writes a text state dict (stored as float32), its config and vocabulary, and the logit scale (exp, not log).</summary>
    public static void SaveText(IReadOnlyDictionary<string, Tensor> stateDict, ClipTextConfig config, ClipTokenizer tokenizer,
        string folder, double? logitScale = null, JsonObject? extra = null)
    {
        Directory.CreateDirectory(folder);
        var json = config.ToJson(tokenizer);
        if (logitScale is { } scale) json["logit_scale"] = scale;
        Merge(json, extra);
        WriteWeights(Path.Combine(folder, TextWeights), stateDict);
        WriteJson(Path.Combine(folder, TextConfig), json);
    }

    public static AlphaClipVisionTransformer LoadVision(string folder, ScalarType dtype = ScalarType.Float32) =>
        AlphaClipVisionTransformer.Load(Path.Combine(folder, VisionWeights), AlphaClipConfig.FromJsonFile(Path.Combine(folder, VisionConfig)), dtype);

    public static ClipTextTransformer LoadText(string folder, ScalarType dtype = ScalarType.Float32) =>
        ClipTextTransformer.Load(Path.Combine(folder, TextWeights), Path.Combine(folder, TextConfig), dtype);

    /// <summary>text.json's logit_scale, or null when absent.</summary>
    public static double? ReadLogitScale(string folder)
    {
        string path = Path.Combine(folder, TextConfig);
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?["logit_scale"]?.GetValue<double>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: logit_scale is not a number ({e.Message})", e);
        }
    }

    /// <summary>True when the folder holds all four files.</summary>
    public static bool Exist(string folder) =>
        new[] { VisionWeights, VisionConfig, TextWeights, TextConfig }.All(f => File.Exists(Path.Combine(folder, f)));

    static void Merge(JsonObject json, JsonObject? extra)
    {
        if (extra is null) return;
        foreach (var (key, value) in extra) json[key] = value?.DeepClone();
    }

    // Written beside and renamed over the target, so a killed run never leaves a torn file under the final name.
    static void WriteWeights(string path, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        string temp = path + ".tmp";
        using (var scope = NewDisposeScope())
            StateDictFile.WriteSafetensors(temp, stateDict.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.detach().to(ScalarType.Float32))).ToList());
        File.Move(temp, path, overwrite: true);
    }

    static void WriteJson(string path, JsonNode json)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, json.ToJsonString(Indented) + "\n");
        File.Move(temp, path, overwrite: true);
    }
}
