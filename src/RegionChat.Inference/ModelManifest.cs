using System.Text.Json;
using System.Text.Json.Serialization;

namespace RegionChat.Inference;

/// <summary>
/// <c>models/&lt;id&gt;/model.json</c>: which files make a region-chat model and how they fit together. File paths are
/// relative to the manifest's folder and must stay inside it, so a manifest can never make the server read elsewhere.
/// The schema is documented in models/README.md.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The model id: the folder name.</summary>
    [JsonIgnore] public string Id { get; init; } = "";
    /// <summary>The folder holding model.json; every file path below resolves inside it.</summary>
    [JsonIgnore] public string Directory { get; init; } = "";

    public string Description { get; init; } = "";
    public VisionSection Vision { get; init; } = new();
    public ProjectorSection Projector { get; init; } = new();
    public LlmSection Llm { get; init; } = new();
    /// <summary>The instruction used when a caption request carries none.</summary>
    public string DefaultInstruction { get; init; } = "describe this region";
    /// <summary>Optional CLIP text tower (shapes-tiny ships one for zero-shot evaluation).</summary>
    public TextTowerSection? TextTower { get; init; }
    /// <summary>Optional files used only by evaluation (`regionchat eval shapes`), never by serving.</summary>
    public EvalSection? Eval { get; init; }

    public sealed record VisionSection
    {
        /// <summary>Alpha-CLIP visual state dict (.pth or .safetensors).</summary>
        public string Weights { get; init; } = "";
        /// <summary>Optional JSON with input_resolution, patch_size, width, layers, heads, output_dim.</summary>
        public string? Config { get; init; }
        /// <summary>"pad" (LLaVA, the default) or "crop" (CLIP).</summary>
        public string Preprocess { get; init; } = "pad";
        /// <summary>Which block's output feeds the projector; -2 is LLaVA-1.5's second to last.</summary>
        public int FeatureLayer { get; init; } = -2;
        /// <summary>LLaVA's mm_vision_select_feature: "patch" (the default, CLS dropped) or "cls_patch" (CLS token first, then the patches).</summary>
        public string SelectFeature { get; init; } = "patch";
        /// <summary>"float32" (default), "bfloat16" or "float16".</summary>
        public string Dtype { get; init; } = "float32";
    }

    public sealed record ProjectorSection
    {
        /// <summary>LLaVA projector weights (model.mm_projector.*) in .pth, .bin or .safetensors.</summary>
        public string? Weights { get; init; }
        /// <summary>Alternatively a llama.cpp LLaVA mmproj GGUF whose mm.0 / mm.2 tensors are the projector.</summary>
        public string? Mmproj { get; init; }
    }

    public sealed record LlmSection
    {
        /// <summary>The llama GGUF.</summary>
        public string Gguf { get; init; } = "";
        /// <summary>"llava_v1" (default), "vicuna_v1" or "gguf" (the GGUF's own chat template).</summary>
        public string Template { get; init; } = "llava_v1";
        /// <summary>System prompt; null means the template's default.</summary>
        public string? SystemPrompt { get; init; }
        /// <summary>Stop strings added to every request.</summary>
        public string[] Stop { get; init; } = [];
    }

    public sealed record TextTowerSection
    {
        public string Weights { get; init; } = "";
        public string? Config { get; init; }
    }

    public sealed record EvalSection
    {
        /// <summary>The stage-1 (plain CLIP) image tower the Alpha-CLIP tower was fine-tuned from: the "CLIP, whole
        /// image" column of zero-shot region classification.</summary>
        public TowerFiles? ClipVision { get; init; }
    }

    /// <summary>A tower's weights (safetensors/.pth) and optional JSON config.</summary>
    public sealed record TowerFiles
    {
        public string Weights { get; init; } = "";
        public string? Config { get; init; }
    }

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public const string FileName = "model.json";

    /// <summary>Reads <c>dir/model.json</c> and checks that every file it names exists inside <paramref name="dir"/>.</summary>
    public static ModelManifest Load(string dir)
    {
        dir = Path.GetFullPath(dir);
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new ModelManifestException($"no {FileName} in {dir}");
        ModelManifest m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path), Json)
                ?? throw new ModelManifestException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new ModelManifestException($"{path}: {e.Message}");
        }
        m = m with { Id = new DirectoryInfo(dir).Name, Directory = dir };
        m.Validate();
        return m;
    }

    /// <summary>Resolves a manifest-relative path, refusing anything that leaves the model folder.</summary>
    public string Resolve(string relative, string field)
    {
        if (string.IsNullOrWhiteSpace(relative)) throw new ModelManifestException($"{Id}: {field} is empty");
        if (Path.IsPathRooted(relative)) throw new ModelManifestException($"{Id}: {field} must be relative to the model folder, got '{relative}'");
        string full = Path.GetFullPath(Path.Combine(Directory, relative));
        string root = Directory.EndsWith(Path.DirectorySeparatorChar) ? Directory : Directory + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw new ModelManifestException($"{Id}: {field} '{relative}' leaves the model folder");
        if (!File.Exists(full)) throw new ModelManifestException($"{Id}: {field} file '{relative}' not found");
        return full;
    }

    void Validate()
    {
        Resolve(Vision.Weights, "vision.weights");
        if (Vision.Config != null) Resolve(Vision.Config, "vision.config");
        if (Vision.Preprocess is not ("pad" or "crop"))
            throw new ModelManifestException($"{Id}: vision.preprocess must be \"pad\" or \"crop\", got \"{Vision.Preprocess}\"");
        if (Vision.SelectFeature is not ("patch" or "cls_patch"))
            throw new ModelManifestException($"{Id}: vision.select_feature must be \"patch\" or \"cls_patch\", got \"{Vision.SelectFeature}\"");
        if (Vision.Dtype is not ("float32" or "bfloat16" or "float16"))
            throw new ModelManifestException($"{Id}: vision.dtype must be float32, bfloat16 or float16, got \"{Vision.Dtype}\"");
        if ((Projector.Weights == null) == (Projector.Mmproj == null))
            throw new ModelManifestException($"{Id}: projector needs exactly one of weights or mmproj");
        if (Projector.Weights != null) Resolve(Projector.Weights, "projector.weights");
        if (Projector.Mmproj != null) Resolve(Projector.Mmproj, "projector.mmproj");
        Resolve(Llm.Gguf, "llm.gguf");
        if (Llm.Template is not ("llava_v1" or "vicuna_v1" or "gguf"))
            throw new ModelManifestException($"{Id}: llm.template must be llava_v1, vicuna_v1 or gguf, got \"{Llm.Template}\"");
        if (TextTower != null)
        {
            Resolve(TextTower.Weights, "text_tower.weights");
            if (TextTower.Config != null) Resolve(TextTower.Config, "text_tower.config");
        }
        if (Eval?.ClipVision is { } clip)
        {
            Resolve(clip.Weights, "eval.clip_vision.weights");
            if (clip.Config != null) Resolve(clip.Config, "eval.clip_vision.config");
        }
    }

    /// <summary>Every model folder (one holding model.json) directly under <paramref name="modelsRoot"/>.</summary>
    public static IReadOnlyList<string> Discover(string modelsRoot) =>
        System.IO.Directory.Exists(modelsRoot)
            ? System.IO.Directory.GetDirectories(modelsRoot).Where(d => File.Exists(Path.Combine(d, FileName))).OrderBy(d => d, StringComparer.Ordinal).ToList()
            : [];
}

/// <summary>A model manifest that is malformed or names files that are missing or outside the model folder.</summary>
public sealed class ModelManifestException(string message) : Exception(message);
