using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RegionChat.Inference.Internal;

/// <summary>
/// The models the core serves: every folder with a model.json directly under the models folder (or one given
/// folder). The default model loads when the host asks (so a broken default fails fast); others load on first use.
/// </summary>
internal sealed class ModelRegistry : IDisposable
{
    readonly RegionChatCoreOptions options;
    readonly ILogger log;
    readonly ConcurrentDictionary<string, Lazy<RegionChatModel>> loaded = new(StringComparer.Ordinal);
    // A failed load stays failed (its Lazy rethrows the same exception): why, for the health check.
    readonly ConcurrentDictionary<string, string> failures = new(StringComparer.Ordinal);

    public ModelRegistry(RegionChatCoreOptions options, ILogger log)
    {
        this.options = options;
        this.log = log;
        ModelsPath = ResolveModelsPath(options.ModelsPath, options.ContentRoot);
        DefaultModelId = options.DefaultModel;
        Manifests = ModelManifest.Discover(ModelsPath).Select(TryLoadManifest).OfType<ModelManifest>()
            .ToDictionary(m => m.Id, StringComparer.Ordinal);
    }

    /// <summary>Serves the one model of <paramref name="manifest"/>, as the default.</summary>
    public ModelRegistry(ModelManifest manifest, RegionChatCoreOptions options, ILogger log)
    {
        this.options = options;
        this.log = log;
        ModelsPath = Path.GetDirectoryName(manifest.Directory) ?? manifest.Directory;
        DefaultModelId = manifest.Id;
        Manifests = new Dictionary<string, ModelManifest>(StringComparer.Ordinal) { [manifest.Id] = manifest };
    }

    public string ModelsPath { get; }
    public IReadOnlyDictionary<string, ModelManifest> Manifests { get; }
    public string DefaultModelId { get; }

    ModelManifest? TryLoadManifest(string dir)
    {
        try { return ModelManifest.Load(dir); }
        catch (ModelManifestException e)
        {
            CoreLog.ModelFolderSkipped(log, dir, e.Message);
            return null;
        }
    }

    /// <summary>A relative models path is looked up from the content root, then upwards from the app's folder (so
    /// `dotnet run --project src/RegionChat.Server` finds the repository's models/ from anywhere in the tree).</summary>
    static string ResolveModelsPath(string configured, string contentRoot)
    {
        if (Path.IsPathRooted(configured)) return configured;
        foreach (var start in new[] { contentRoot, Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, configured);
                if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
            }
        return Path.GetFullPath(Path.Combine(contentRoot, configured));
    }

    /// <summary>The model for a request's id ("" = default); null when no such model is served.</summary>
    public RegionChatModel? Get(string id)
    {
        if (string.IsNullOrEmpty(id)) id = DefaultModelId;
        if (!Manifests.TryGetValue(id, out var manifest)) return null;
        if (loaded.TryGetValue(id, out var known)) return known.Value;
        Lazy<RegionChatModel> entry;
        lock (loaded)
        {
            // Loading or loaded, not failed: what holds (or will hold) memory.
            var held = loaded.Keys.Where(k => !failures.ContainsKey(k)).Order(StringComparer.Ordinal).ToArray();
            if (options.MaxLoadedModels > 0 && !loaded.ContainsKey(id) && held.Length >= options.MaxLoadedModels)
                throw new ModelManifestException($"{id}: not loaded, and {held.Length} model(s) are (RegionChat:MaxLoadedModels = " +
                    $"{options.MaxLoadedModels}): ask for {string.Join(" or ", held.Select(k => $"'{k}'"))}");
            entry = loaded.GetOrAdd(id, _ => new Lazy<RegionChatModel>(() => Load(manifest)));
        }
        return entry.Value;
    }

    RegionChatModel Load(ModelManifest manifest)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        RegionChatModel model;
        try
        {
            model = RegionChatModel.Load(manifest, new RegionChatModelOptions
            {
                ContextSize = options.ContextSize,
                BatchSize = options.BatchSize,
                MaxSequences = options.ParallelSequences,
                OneShotSequences = options.OneShotSequences,
                GpuLayers = options.GpuLayers,
                VisionDevice = options.VisionDevice,
                VisionDtype = options.VisionDtype,
                Threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount,
                LlmThreads = options.LlmThreads,
                VisualTokenBudget = options.Models.GetValueOrDefault(manifest.Id)?.VisualTokenBudget ?? 0,
            });
        }
        catch (Exception e)
        {
            failures[manifest.Id] = e.Message;
            if (e is ModelManifestException) throw;
            // Files the manifest names but the loaders refuse (a GGUF llama.cpp cannot read, weights of the wrong shape):
            // the model is unavailable, which callers report as such, not as an internal error.
            throw new ModelManifestException($"{manifest.Id}: cannot be loaded: {e.Message}", e);
        }
        CoreLog.ModelLoaded(log, manifest.Id, manifest.Directory, started.Elapsed.TotalMilliseconds, model.VisualTokenCount,
            model.Llm.Facts.EmbeddingWidth, model.Llm.Facts.ContextSize, model.LlmThreads, model.VisionThreads, model.VisionDtype,
            VisionPrecision.CpuHasBf16 ? "has" : "lacks",
            model.Llm.TokensAsRows ? "as token_embd rows, one decode call" : $"own decode call ({model.Llm.TokenRowsRefusal ?? "off"})");
        return model;
    }

    /// <summary>Loads the default model now; throws when it is missing or broken.</summary>
    public RegionChatModel LoadDefault() =>
        Get(DefaultModelId) ?? throw new ModelManifestException(
            $"the default model '{DefaultModelId}' is not in {ModelsPath} (models " +
            $"found: {(Manifests.Count == 0 ? "none" : string.Join(", ", Manifests.Keys))}){PullUnfinished(DefaultModelId)}");

    /// <summary>Why a model's folder has no manifest when `pull` is still filling it (its partial downloads are there).</summary>
    string PullUnfinished(string id)
    {
        string folder = Path.Combine(ModelsPath, id);
        if (id.Length == 0 || Path.GetFileName(id) != id || !Directory.Exists(folder) || File.Exists(Path.Combine(folder, ModelManifest.FileName)))
            return "";
        bool partial = Directory.EnumerateFiles(folder, "*.partial", SearchOption.AllDirectories).Any();
        return partial ? $"; {folder} holds partial downloads: its pull has not finished (rerun `regionchat pull {id}` to resume it)" : "";
    }

    /// <summary>Each served model's load state; loads nothing.</summary>
    public IReadOnlyList<ModelLoadStatus> Statuses() => Manifests.Keys.Order(StringComparer.Ordinal).Select(id =>
    {
        bool isDefault = id == DefaultModelId;
        if (loaded.TryGetValue(id, out var lazy) && lazy.IsValueCreated) return new ModelLoadStatus(id, isDefault, ModelLoadState.Loaded);
        return failures.TryGetValue(id, out var error)
            ? new ModelLoadStatus(id, isDefault, ModelLoadState.Failed, error)
            : new ModelLoadStatus(id, isDefault, ModelLoadState.NotLoaded);
    }).ToArray();

    public IEnumerable<RegionChatModel> LoadedModels => loaded.Values.Where(l => l.IsValueCreated).Select(l => l.Value);

    public void Dispose()
    {
        foreach (var m in LoadedModels) m.Dispose();
    }
}
