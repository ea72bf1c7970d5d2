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
    /// <summary>Optional zero-shot region classifier: a CLIP text tower, its tokenizer and prompt templates
    /// (<see cref="RegionChatCore.ClassifyAsync"/>).</summary>
    public ClassifierSection? Classifier { get; init; }
    /// <summary>Optional files used only by evaluation (`regionchat eval shapes`), never by serving.</summary>
    public EvalSection? Eval { get; init; }
    /// <summary>Optional: where `regionchat pull` fetches each file of the model from. The server never reads it.</summary>
    public IReadOnlyList<DownloadFile>? Download { get; init; }

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
        /// <summary>"float32" (default), "bfloat16", "float16" or "auto" (<see cref="VisionPrecision"/>).</summary>
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

    public sealed record ClassifierSection
    {
        /// <summary>The CLIP text tower: OpenAI's layout (a full CLIP .pth or its text part) or Hugging Face CLIPModel's
        /// text_model.* (.safetensors).</summary>
        public string TextWeights { get; init; } = "";
        /// <summary>Optional: the shapes text.json (dimensions and word list) or a CLIP config (OpenAI build_model /
        /// Hugging Face names); default: the dimensions read off the weights (heads = width/64).</summary>
        public string? TextConfig { get; init; }
        /// <summary>"clip_bpe" (default: CLIP's BPE, the shipped vocabulary unless <see cref="Vocab"/>) or "words" (the
        /// word list of text_config, the shapes model's).</summary>
        public string Tokenizer { get; init; } = "clip_bpe";
        /// <summary>Optional CLIP BPE merges file (.txt.gz) instead of the shipped one.</summary>
        public string? Vocab { get; init; }
        /// <summary>Prompt templates, "{}" standing for the label; several are averaged (CLIP's prompt ensembling).</summary>
        public string[] Templates { get; init; } = ["a photo of a {}."];
        /// <summary>exp(logit_scale); default: the weights' logit_scale, else text_config's "logit_scale", else 100.</summary>
        public double? LogitScale { get; init; }
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

    /// <summary>One file `regionchat pull` fetches: where it goes in the model folder, a URL pinned to a revision, and
    /// the SHA-256 and size it must have. Null when the publisher lists none; <see cref="Note"/> then says why.</summary>
    public sealed record DownloadFile
    {
        public string Path { get; init; } = "";
        public string Url { get; init; } = "";
        public string? Sha256 { get; init; }
        public long? Bytes { get; init; }
        public string? Note { get; init; }
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
        var m = Parse(path);
        m.Validate(filesMustExist: true);
        return m;
    }

    /// <summary>Reads a manifest whose files are not there yet (one under deploy/, before `regionchat pull`): checks every
    /// field, and that each file it names is in its download list. Id is the manifest's folder name.</summary>
    public static ModelManifest ReadForDownload(string manifestPath)
    {
        string path = Path.GetFullPath(manifestPath);
        if (!File.Exists(path)) throw new ModelManifestException($"no manifest at {path}");
        var m = Parse(path);
        if (m.Download is not { Count: > 0 }) throw new ModelManifestException($"{m.Id}: {path} has no download list");
        m.Validate(filesMustExist: false);
        return m;
    }

    static ModelManifest Parse(string path)
    {
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
        string dir = Path.GetDirectoryName(path)!;
        return m with { Id = new DirectoryInfo(dir).Name, Directory = dir };
    }

    /// <summary>Resolves a manifest-relative path, refusing anything that leaves the model folder.</summary>
    public string Resolve(string relative, string field)
    {
        string full = Inside(relative, field);
        if (!File.Exists(full)) throw new ModelManifestException($"{Id}: {field} file '{relative}' not found");
        return full;
    }

    /// <summary>Resolve when the files must exist; otherwise the same checks except existence, plus: the file must be
    /// in the download list (else pull would install a model that cannot load).</summary>
    void Check(string relative, string field, bool fileMustExist)
    {
        if (fileMustExist)
        {
            Resolve(relative, field);
            return;
        }
        string full = Inside(relative, field);
        if (Download?.Any(d => Path.GetFullPath(Path.Combine(Directory, d.Path)) == full) != true)
            throw new ModelManifestException($"{Id}: {field} '{relative}' is not in the download list");
    }

    string Inside(string relative, string field)
    {
        if (string.IsNullOrWhiteSpace(relative)) throw new ModelManifestException($"{Id}: {field} is empty");
        if (Path.IsPathRooted(relative)) throw new ModelManifestException($"{Id}: {field} must be relative to the model folder, got '{relative}'");
        string full = Path.GetFullPath(Path.Combine(Directory, relative));
        string root = Directory.EndsWith(Path.DirectorySeparatorChar) ? Directory : Directory + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw new ModelManifestException($"{Id}: {field} '{relative}' leaves the model folder");
        return full;
    }

    void Validate(bool filesMustExist)
    {
        if (Download != null) ValidateDownload(Download);
        Check(Vision.Weights, "vision.weights", filesMustExist);
        if (Vision.Config != null) Check(Vision.Config, "vision.config", filesMustExist);
        if (Vision.Preprocess is not ("pad" or "crop"))
            throw new ModelManifestException($"{Id}: vision.preprocess must be \"pad\" or \"crop\", got \"{Vision.Preprocess}\"");
        if (Vision.SelectFeature is not ("patch" or "cls_patch"))
            throw new ModelManifestException($"{Id}: vision.select_feature must be \"patch\" or \"cls_patch\", got \"{Vision.SelectFeature}\"");
        if (VisionPrecision.Check(Vision.Dtype, "vision.dtype") is { } dtype) throw new ModelManifestException($"{Id}: {dtype}");
        if ((Projector.Weights == null) == (Projector.Mmproj == null))
            throw new ModelManifestException($"{Id}: projector needs exactly one of weights or mmproj");
        if (Projector.Weights != null) Check(Projector.Weights, "projector.weights", filesMustExist);
        if (Projector.Mmproj != null) Check(Projector.Mmproj, "projector.mmproj", filesMustExist);
        Check(Llm.Gguf, "llm.gguf", filesMustExist);
        if (Llm.Template is not ("llava_v1" or "vicuna_v1" or "gguf"))
            throw new ModelManifestException($"{Id}: llm.template must be llava_v1, vicuna_v1 or gguf, got \"{Llm.Template}\"");
        if (TextTower != null)
        {
            Check(TextTower.Weights, "text_tower.weights", filesMustExist);
            if (TextTower.Config != null) Check(TextTower.Config, "text_tower.config", filesMustExist);
        }
        if (Classifier is { } classifier)
        {
            Check(classifier.TextWeights, "classifier.text_weights", filesMustExist);
            if (classifier.TextConfig != null) Check(classifier.TextConfig, "classifier.text_config", filesMustExist);
            if (classifier.Vocab != null) Check(classifier.Vocab, "classifier.vocab", filesMustExist);
            if (classifier.Tokenizer is not ("clip_bpe" or "words"))
                throw new ModelManifestException($"{Id}: classifier.tokenizer must be \"clip_bpe\" or \"words\", got \"{classifier.Tokenizer}\"");
            if (classifier.Tokenizer == "words" && classifier.TextConfig == null)
                throw new ModelManifestException($"{Id}: classifier.tokenizer \"words\" needs classifier.text_config (the text.json holding the word list)");
            if (classifier.Templates.Length is 0 or > 100 || classifier.Templates.Any(t => t is null || !t.Contains("{}", StringComparison.Ordinal)))
                throw new ModelManifestException($"{Id}: classifier.templates must hold 1 to 100 strings, each with \"{{}}\" where the label goes");
            if (classifier.LogitScale is { } scale && !(scale > 0 && double.IsFinite(scale)))
                throw new ModelManifestException($"{Id}: classifier.logit_scale must be a positive number, got {scale}");
        }
        if (Eval?.ClipVision is { } clip)
        {
            Check(clip.Weights, "eval.clip_vision.weights", filesMustExist);
            if (clip.Config != null) Check(clip.Config, "eval.clip_vision.config", filesMustExist);
        }
    }

    void ValidateDownload(IReadOnlyList<DownloadFile> files)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++)
        {
            var f = files[i];
            string field = $"download[{i}]";
            string full = Inside(f.Path, field + ".path");
            if (string.Equals(Path.GetFileName(full), FileName, StringComparison.Ordinal))
                throw new ModelManifestException($"{Id}: {field}.path must not be {FileName} (pull writes it)");
            if (!seen.Add(full)) throw new ModelManifestException($"{Id}: {field}.path '{f.Path}' is listed twice");
            if (!Uri.TryCreate(f.Url, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http"))
                throw new ModelManifestException($"{Id}: {field}.url must be an absolute http(s) URL, got '{f.Url}'");
            // A Hugging Face /resolve/<revision>/ URL with a hash must name a commit: a branch such as main can change under
            // the hash. Without one the file is unverified anyway (its note says so), and a branch is all there may be.
            var segments = url.AbsolutePath.Split('/');
            int resolve = Array.IndexOf(segments, "resolve");
            if (f.Sha256 != null && resolve >= 0 && (resolve + 1 >= segments.Length || !IsHex(segments[resolve + 1], 40)))
                throw new ModelManifestException(
                    $"{Id}: {field}.url must be pinned to a revision (a 40-hex commit after /resolve/), got '{f.Url}'");
            if (Array.IndexOf(segments, "blob") >= 0)
                throw new ModelManifestException($"{Id}: {field}.url is a /blob/ page (HTML), not the file: use /resolve/<commit>/, got '{f.Url}'");
            if (f.Sha256 != null && !IsHex(f.Sha256, 64))
                throw new ModelManifestException($"{Id}: {field}.sha256 must be 64 hex digits or null, got '{f.Sha256}'");
            if (f.Sha256 == null && string.IsNullOrWhiteSpace(f.Note))
                throw new ModelManifestException($"{Id}: {field}.sha256 is null, so {field}.note must say why the file cannot be verified");
            if (f.Bytes is <= 0) throw new ModelManifestException($"{Id}: {field}.bytes must be positive or null, got {f.Bytes}");
        }
    }

    static bool IsHex(string s, int length) => s.Length == length && s.All(char.IsAsciiHexDigit);

    /// <summary>Every model folder (one holding model.json) directly under <paramref name="modelsRoot"/>.</summary>
    public static IReadOnlyList<string> Discover(string modelsRoot) =>
        System.IO.Directory.Exists(modelsRoot)
            ? System.IO.Directory.GetDirectories(modelsRoot).Where(d => File.Exists(Path.Combine(d, FileName))).OrderBy(d => d, StringComparer.Ordinal).ToList()
            : [];
}

/// <summary>A model manifest that is malformed or names files that are missing or outside the model folder.</summary>
public sealed class ModelManifestException(string message, Exception? inner = null) : Exception(message, inner);
