using RegionChat.Training.Clip;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// File names of a shapes LLaVA model folder (and of the stage folders that hold its parts):
/// <c>vision.safetensors</c> + <c>vision.json</c> and <c>text.safetensors</c> + <c>text.json</c> (<see cref="ClipTowerFiles"/>),
/// <c>projector.safetensors</c> (LLaVA's key names <c>model.mm_projector.N.weight/bias</c>), <c>llm.gguf</c>
/// (llama GGUF with the tokenizer), <c>model.json</c> (the inference manifest) and, for evaluation only, the stage-1
/// (plain CLIP) image tower as <c>clip-vision.safetensors</c> + <c>clip-vision.json</c>.
/// </summary>
public static class ShapesModelFiles
{
    public const string Projector = "projector.safetensors";
    public const string ClipVisionWeights = "clip-vision.safetensors", ClipVisionConfig = "clip-vision.json";
    public const string Llm = "llm.gguf";
    public const string Manifest = "model.json";
    public const string ProjectorKeyPrefix = "model.mm_projector.";

    /// <summary>Writes a projector under LLaVA's names (float32), through a temporary file so a crash leaves no torn file.</summary>
    public static void SaveProjector(LlavaProjector projector, string path) => SaveProjector(projector.state_dict(), path);

    /// <summary>Writes a projector state dict ("0.weight", …) under LLaVA's names.</summary>
    public static void SaveProjector(IReadOnlyDictionary<string, Tensor> stateDict, string path)
    {
        string temp = path + ".tmp";
        using (var scope = NewDisposeScope())
            StateDictFile.WriteSafetensors(temp, stateDict.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(ProjectorKeyPrefix + kv.Key, kv.Value.detach().to(ScalarType.Float32))).ToList());
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>True when <paramref name="folder"/> holds a vision tower (weights and config).</summary>
    public static bool HasVision(string folder) =>
        File.Exists(Path.Combine(folder, ClipTowerFiles.VisionWeights)) && File.Exists(Path.Combine(folder, ClipTowerFiles.VisionConfig));

    /// <summary>True when <paramref name="folder"/> holds a text tower (weights and config).</summary>
    public static bool HasText(string folder) =>
        File.Exists(Path.Combine(folder, ClipTowerFiles.TextWeights)) && File.Exists(Path.Combine(folder, ClipTowerFiles.TextConfig));
}
