using RegionChat.Data.Regions;

namespace RegionChat.Inference;

/// <summary>How a <see cref="RegionChatCore"/> serves: which models, the shared LLM context, caches, limits and
/// defaults. The server fills it from its "RegionChat" configuration section; in-process callers set what they need.</summary>
public sealed record RegionChatCoreOptions
{
    /// <summary>Folder of model folders (each with a model.json). A relative path is looked up from
    /// <see cref="ContentRoot"/>, the current directory and the app's folder, and their parents.</summary>
    public string ModelsPath { get; init; } = "models";
    /// <summary>Where a relative <see cref="ModelsPath"/> is looked up first.</summary>
    public string ContentRoot { get; init; } = Directory.GetCurrentDirectory();
    /// <summary>The model used when a request names none.</summary>
    public string DefaultModel { get; init; } = "shapes-tiny";
    /// <summary>CPU threads for llama.cpp and TorchSharp; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>llama.cpp's threads; 0 = <see cref="LlmThreadChoice"/>.</summary>
    public int LlmThreads { get; init; }
    /// <summary>Requests admitted at once (running + waiting).</summary>
    public int QueueSize { get; init; } = 64;
    /// <summary>Models loaded at once, the default one included; 0 = no limit. A request for another model past it is
    /// refused as the model's unavailability (none is unloaded: sessions live in their model's KV cache).</summary>
    public int MaxLoadedModels { get; init; }
    /// <summary>Sequences decoded together in the shared LLM context.</summary>
    public int ParallelSequences { get; init; } = 8;
    /// <summary>Of the ParallelSequences, how many conversations leave to one-shot requests (Caption, OpenAI calls without
    /// a session), so those never evict a conversation.</summary>
    public int OneShotSequences { get; init; }
    /// <summary>LLM context size in tokens, shared by all sequences (KV cache).</summary>
    public int ContextSize { get; init; } = RegionChatModelOptions.DefaultContextSize;
    /// <summary>LLM batch size (prefill chunk) in tokens.</summary>
    public int BatchSize { get; init; } = 512;
    /// <summary>LLM layers offloaded to a GPU (llama.cpp). Only the CPU backend ships here: configuration, untested.</summary>
    public int GpuLayers { get; init; }
    /// <summary>Where the vision tower and projector run: cpu, cuda or auto (<see cref="Accelerators"/>). CUDA is untested here.</summary>
    public string VisionDevice { get; init; } = Accelerators.Auto;
    /// <summary>The vision towers' number type instead of each manifest's vision.dtype ("" = the manifest's).</summary>
    public string VisionDtype { get; init; } = "";
    /// <summary>Most images in one vision forward (<see cref="VisionBatcher.DefaultMaxBatch"/> says why it is small).</summary>
    public int VisionMaxBatch { get; init; } = VisionBatcher.DefaultMaxBatch;
    /// <summary>Byte budget of the visual-token cache; 0 turns it off.</summary>
    public long VisualCacheBytes { get; init; } = 256L << 20;
    /// <summary>Byte budget of images' pixels as each model's tower takes them (decoded, resized), kept so a turn about another
    /// region of the same image skips decoding it; 0 turns it off.</summary>
    public long TowerPixelCacheBytes { get; init; } = 64L << 20;
    /// <summary>Byte budget of stored images, LRU.</summary>
    public long ImageStoreBytes { get; init; } = 512L << 20;
    /// <summary>Largest accepted encoded image.</summary>
    public long MaxImageBytes { get; init; } = 20L << 20;
    /// <summary>Largest accepted image in pixels (width × height), checked from the header before decoding.</summary>
    public long MaxImagePixels { get; init; } = 40_000_000;
    /// <summary>Longest id a request may name (model, session, image, CaptionStream, ClassifyStream or EmbedStream item), in characters; at least 71
    /// (an image id's length).</summary>
    public int MaxIdLength { get; init; } = 256;
    /// <summary>What one region may cost (points, stroke, union size and depth, mask pixels), checked before it is
    /// decoded or drawn.</summary>
    public RegionBudget Regions { get; init; } = RegionBudget.Default;
    /// <summary>Most messages one turn may add to its session (an OpenAI history replayed into a new session).</summary>
    public int MaxHistoryMessages { get; init; } = 256;
    /// <summary>Most text bytes one turn's messages may hold together (system prompt included).</summary>
    public int MaxHistoryBytes { get; init; } = 128 << 10;
    /// <summary>Largest prompt text of one turn, in bytes.</summary>
    public int MaxPromptBytes { get; init; } = 32 << 10;
    /// <summary>max_tokens when a request sets none.</summary>
    public int DefaultMaxTokens { get; init; } = 256;
    /// <summary>The largest max_tokens a request may ask for.</summary>
    public int MaxTokensLimit { get; init; } = 4096;
    /// <summary>A session idle for longer is dropped by <see cref="RegionChatCore.ExpireIdleSessions"/> (and its record
    /// expires from the session store).</summary>
    public double SessionIdleSeconds { get; init; } = 600;
    /// <summary>Stored label sets by id (case-insensitive): a classify request may name one instead of giving labels
    /// (<see cref="LabelSets"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> LabelSets { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
    /// <summary>Where session records, leases and shared images live: this process's memory, or Redis.</summary>
    public SessionStoreOptions SessionStore { get; init; } = new();
    /// <summary>Settings of single models by id (the server's "RegionChat:Models:&lt;id&gt;" sections).</summary>
    public IReadOnlyDictionary<string, PerModelOptions> Models { get; init; } = new Dictionary<string, PerModelOptions>(StringComparer.Ordinal);
}

/// <summary>How one model is served ("RegionChat:Models:&lt;id&gt;").</summary>
public sealed record PerModelOptions
{
    /// <summary>Visual tokens kept per image when a request sets no budget (<see cref="RegionChatModelOptions.VisualTokenBudget"/>).</summary>
    public int VisualTokenBudget { get; init; }
}
