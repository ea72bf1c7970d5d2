using System.Text.Json;
using System.Text.Json.Nodes;

namespace RegionChat.Vision;

/// <summary>
/// A whole CLIP's dimensions from one JSON file: the vision tower's (<see cref="AlphaClipConfig"/> keys, or OpenAI's
/// <c>build_model</c> names <c>image_resolution</c>, <c>vision_patch_size</c>, <c>vision_width</c>, <c>vision_layers</c>,
/// <c>vision_heads</c> (default width/64), <c>embed_dim</c>) and the text tower's (<see cref="ClipTextConfig.FromClipJson"/>).
/// Either side is null when the file does not describe it.
/// </summary>
public sealed record ClipModelConfig(AlphaClipConfig? Vision, ClipTextConfig? Text)
{
    public static ClipModelConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CLIP config not found: {path}", path);
        if (new FileInfo(path).Length > 1 << 20) throw new InvalidDataException($"{path}: a 1 MB+ file is not a CLIP config");
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException("a CLIP config must be a JSON object");
            return new ClipModelConfig(VisionOf(root), ClipTextConfig.FromClipJson(root));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    static AlphaClipConfig? VisionOf(JsonObject root)
    {
        if (root.ContainsKey("input_resolution")) return AlphaClipConfig.FromJson(root.ToJsonString());
        if (Int(root, "vision_width") is not { } width) return null;
        return new AlphaClipConfig(Need(root, "image_resolution"), Need(root, "vision_patch_size"), width, Need(root, "vision_layers"),
            Int(root, "vision_heads") ?? width / 64, Need(root, "embed_dim")).Validate();
    }

    static int Need(JsonObject o, string key) => Int(o, key) ?? throw new InvalidDataException($"CLIP config lacks \"{key}\"");

    static int? Int(JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) => n,
        var other => throw new InvalidDataException($"CLIP config \"{key}\" must be an integer, got {other.ToJsonString()}"),
    };
}
