using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>What an export wrote.</summary>
public sealed record ShapesExportResult(string Folder, IReadOnlyList<string> Files, long TotalBytes, GgmlType LlmType);

/// <summary>
/// Stage 6: a finished stage-5 folder as a model folder the inference pipeline loads (the models/shapes-tiny layout):
/// vision.safetensors + vision.json, text.safetensors + text.json (when the vision source had a text tower),
/// projector.safetensors (model.mm_projector.*), llm.gguf (the twin re-saved as F32 or F16, with the tokenizer) and
/// model.json (vision: preprocess "pad", feature_layer and select_feature as stage 4 chose (llava.json); llm: template llava_v1, system prompt "a chat about
/// shapes";
/// default instruction "describe this region"). When a stage-1 folder with a vision tower is given, that plain-CLIP
/// tower is copied as clip-vision.safetensors + clip-vision.json and named in model.json under "eval": {"clip_vision"}
/// (read only by `regionchat eval shapes` for the plain-CLIP zero-shot column). The folder is assembled beside the target
/// and renamed into place.
/// </summary>
public static class ShapesModelExporter
{
    public const string Template = "llava_v1";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="clipVisionFolder">Stage 1's folder (the plain CLIP towers); skipped when null or when it holds no
    /// vision tower (e.g. a run that started from a given --vision tower).</param>
    public static ShapesExportResult Export(string instructFolder, string outputFolder, GgmlType llmType = GgmlType.F32,
        string description = "shapes-tiny: Alpha-CLIP + LLaVA projector + tiny llama trained on the shapes world",
        string? clipVisionFolder = null)
    {
        if (llmType is not (GgmlType.F32 or GgmlType.F16))
            throw new ArgumentException($"the LLM is exported as F32 or F16, not {llmType}", nameof(llmType));
        string init = Path.Combine(instructFolder, LlavaTrainer.InitFolder);
        string llmSource = Path.Combine(instructFolder, ShapesModelFiles.Llm);
        string projectorSource = Path.Combine(instructFolder, ShapesModelFiles.Projector);
        if (!File.Exists(llmSource) || !File.Exists(projectorSource) || !ShapesModelFiles.HasVision(init))
            throw new ArgumentException($"{instructFolder} is not an instruct stage folder (needs {ShapesModelFiles.Llm}, {ShapesModelFiles.Projector} and " +
                "init/ with the vision tower)");

        string target = Path.GetFullPath(outputFolder);
        string partial = target + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);

        File.Copy(Path.Combine(init, ClipTowerFiles.VisionWeights), Path.Combine(partial, ClipTowerFiles.VisionWeights));
        File.Copy(Path.Combine(init, ClipTowerFiles.VisionConfig), Path.Combine(partial, ClipTowerFiles.VisionConfig));
        bool text = ShapesModelFiles.HasText(init);
        if (text)
        {
            File.Copy(Path.Combine(init, ClipTowerFiles.TextWeights), Path.Combine(partial, ClipTowerFiles.TextWeights));
            File.Copy(Path.Combine(init, ClipTowerFiles.TextConfig), Path.Combine(partial, ClipTowerFiles.TextConfig));
        }
        bool clipVision = clipVisionFolder != null && ShapesModelFiles.HasVision(clipVisionFolder);
        if (clipVision)
        {
            File.Copy(Path.Combine(clipVisionFolder!, ClipTowerFiles.VisionWeights), Path.Combine(partial, ShapesModelFiles.ClipVisionWeights));
            File.Copy(Path.Combine(clipVisionFolder!, ClipTowerFiles.VisionConfig), Path.Combine(partial, ShapesModelFiles.ClipVisionConfig));
        }
        File.Copy(projectorSource, Path.Combine(partial, ShapesModelFiles.Projector));
        if (llmType == GgmlType.F32) File.Copy(llmSource, Path.Combine(partial, ShapesModelFiles.Llm));
        else
        {
            using var twin = LlamaTwin.FromGguf(llmSource);
            LlamaVocabulary vocabulary;
            using (var gguf = GgufFile.Open(llmSource)) vocabulary = LlamaVocabulary.FromGguf(gguf);
            twin.SaveGguf(Path.Combine(partial, ShapesModelFiles.Llm), vocabulary, llmType, new LlamaGgufOptions { Name = "shapes-tiny-llm" });
        }

        var (featureLayer, includeCls) = ShapesLlavaModel.ReadFeatureSelection(init);
        var manifest = new JsonObject
        {
            ["description"] = description,
            ["vision"] = new JsonObject
            {
                ["weights"] = ClipTowerFiles.VisionWeights, ["config"] = ClipTowerFiles.VisionConfig, ["preprocess"] = "pad",
                ["feature_layer"] = featureLayer, ["select_feature"] = includeCls ? "cls_patch" : "patch", ["dtype"] = "float32",
            },
            ["projector"] = new JsonObject { ["weights"] = ShapesModelFiles.Projector },
            ["llm"] = new JsonObject { ["gguf"] = ShapesModelFiles.Llm, ["template"] = Template, ["system_prompt"] = ShapesText.SystemLine },
            ["default_instruction"] = ShapesText.DescribeRegion,
        };
        if (text)
        {
            manifest["text_tower"] = new JsonObject { ["weights"] = ClipTowerFiles.TextWeights, ["config"] = ClipTowerFiles.TextConfig };
            // Zero-shot region classification over captions as labels ("a large red circle"): the word tokenizer of text.json.
            manifest["classifier"] = new JsonObject
            {
                ["text_weights"] = ClipTowerFiles.TextWeights, ["text_config"] = ClipTowerFiles.TextConfig,
                ["tokenizer"] = "words", ["templates"] = new JsonArray("{}"),
            };
        }
        if (clipVision)
            manifest["eval"] = new JsonObject
            {
                ["clip_vision"] = new JsonObject { ["weights"] = ShapesModelFiles.ClipVisionWeights, ["config"] = ShapesModelFiles.ClipVisionConfig },
            };
        File.WriteAllText(Path.Combine(partial, ShapesModelFiles.Manifest), manifest.ToJsonString(Indented) + "\n");

        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        Directory.Move(partial, target);
        var files = Directory.GetFiles(target).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        long bytes = files.Sum(f => new FileInfo(Path.Combine(target, f)).Length);
        return new ShapesExportResult(target, files, bytes, llmType);
    }
}
