using RegionChat.Data.Regions;
using RegionChat.Inference;

namespace RegionChat.Server;

/// <summary>
/// The "RegionChat" configuration section. Set in appsettings.json, as environment variables
/// (<c>RegionChat__QueueSize=8</c>) or on the command line (<c>--RegionChat:QueueSize=8</c>).
/// </summary>
public sealed class ServerOptions
{
    public const string Section = "RegionChat";

    /// <summary>Folder of model folders (each with a model.json). Relative paths are taken from the repository root or the
    /// current directory. Model files are only ever read from inside it.</summary>
    public string ModelsPath { get; set; } = "models";
    /// <summary>The model used when a request names none.</summary>
    public string DefaultModel { get; set; } = "shapes-tiny";
    /// <summary>Where native gRPC listens (HTTP/2 without TLS, "h2c"); several URLs separated by ';', "" = none.
    /// <c>--urls</c> / ASPNETCORE_URLS, when given, replace it (they set the gRPC address before the HTTP/1.1 listener
    /// existed). Port 0 = a free port.</summary>
    public string GrpcUrl { get; set; } = "http://127.0.0.1:50051";
    /// <summary>Where the HTTP/1.1 listener is (gRPC-Web, the OpenAI-compatible /v1 API, /metrics, the web page);
    /// several URLs separated by ';', "" = none. Port 0 = a free port.</summary>
    public string HttpUrl { get; set; } = "http://127.0.0.1:8080";
    /// <summary>Cross-origin access for browser pages served from elsewhere.</summary>
    public CorsSettings Cors { get; set; } = new();
    /// <summary>The OpenAI-compatible endpoint.</summary>
    public OpenAiSettings OpenAi { get; set; } = new();
    /// <summary>CPU threads for TorchSharp (one for a vision tower under a GFLOP) and for llama.cpp unless LlmThreads is
    /// set; 0 = all cores.</summary>
    public int Threads { get; set; }
    /// <summary>llama.cpp's threads; 0 = one for a GGUF under 64 MB (thread barriers cost more than such a model's
    /// work per op), else Threads.</summary>
    public int LlmThreads { get; set; }
    /// <summary>Requests admitted at once (running + waiting). Beyond it: RESOURCE_EXHAUSTED.</summary>
    public int QueueSize { get; set; } = 64;
    /// <summary>Sequences decoded together in the shared LLM context.</summary>
    public int ParallelSequences { get; set; } = 8;
    /// <summary>Models loaded at once, the default one included; 0 = no limit. Each holds its weights and its own KV cache
    /// (a 7B one about 10 GiB), and none is unloaded: a request for another model past it is refused as unavailable.</summary>
    public int MaxLoadedModels { get; set; }
    /// <summary>Of the ParallelSequences, how many conversations leave to one-shot requests (Caption, OpenAI calls without
    /// a session), so those never evict a conversation; unset = a quarter of ParallelSequences (rounded down).</summary>
    public int? OneShotSequences { get; set; }
    /// <summary>LLM context size in tokens, shared by all sequences (KV cache).</summary>
    public int ContextSize { get; set; } = Inference.RegionChatModelOptions.DefaultContextSize;
    /// <summary>LLM batch size (prefill chunk) in tokens.</summary>
    public int BatchSize { get; set; } = 512;
    /// <summary>LLM layers offloaded to a GPU. Only llama.cpp's CPU backend ships with RegionChat: anything but 0 needs a
    /// CUDA build (LLamaSharp.Backend.Cuda12) and is untested.</summary>
    public int GpuLayers { get; set; }
    /// <summary>The vision tower's device: "cpu", "cuda" or "auto" (CUDA when TorchSharp finds a device). Checked at start:
    /// "cuda" without a CUDA device stops it. The tower, the projector and each batch's tensors go to the chosen device;
    /// the start log says what was found (README "GPU").</summary>
    public string Device { get; set; } = "auto";
    /// <summary>The vision towers' number type for every model instead of each manifest's vision.dtype: "float32",
    /// "bfloat16", "float16" (or fp32, bf16, fp16) or "auto" (bfloat16 on a CPU with bf16 instructions); "" = the manifest's.</summary>
    public string VisionDtype { get; set; } = "";
    /// <summary>Byte budget of the visual-token cache (image id, region, model) → projected tokens.</summary>
    public long VisualCacheBytes { get; set; } = 256L << 20;
    /// <summary>Most images in one vision forward: small batches let the LLM prefill the first images of a burst while
    /// the tower encodes the next.</summary>
    public int VisionMaxBatch { get; set; } = Inference.VisionBatcher.DefaultMaxBatch;
    /// <summary>Byte budget of images' pixels as each model's vision tower takes them (decoded, resized, normalised), per
    /// (model, image), LRU: a turn about another region of an image seen before skips decoding it. 0 turns it off.</summary>
    public long TowerPixelCacheBytes { get; set; } = 64L << 20;
    /// <summary>Byte budget of stored images (PutImage / UploadImage / inline images), LRU.</summary>
    public long ImageStoreBytes { get; set; } = 512L << 20;
    /// <summary>Largest accepted encoded image.</summary>
    public long MaxImageBytes { get; set; } = 20L << 20;
    /// <summary>Largest accepted image in pixels (width × height), checked from the header before decoding.</summary>
    public long MaxImagePixels { get; set; } = 40_000_000;
    /// <summary>Largest gRPC message the server receives (an inline image must fit in it).</summary>
    public int MaxReceiveMessageBytes { get; set; } = 24 << 20;
    /// <summary>Longest id a request may name (model, session, image, CaptionStream, ClassifyStream or EmbedStream item), in characters; longer ones are
    /// INVALID_ARGUMENT / 400 naming the field. At least 71 (an image id's length).</summary>
    public int MaxIdLength { get; set; } = 256;
    /// <summary>Most messages one request may add to its session (an OpenAI history replayed into a new session).</summary>
    public int MaxHistoryMessages { get; set; } = 256;
    /// <summary>Most text bytes one request's messages may hold together (system prompt included).</summary>
    public int MaxHistoryBytes { get; set; } = 128 << 10;
    /// <summary>Largest prompt text of one turn, in bytes.</summary>
    public int MaxPromptBytes { get; set; } = 32 << 10;
    /// <summary>Default and maximum max_tokens.</summary>
    public int DefaultMaxTokens { get; set; } = 256;
    public int MaxTokensLimit { get; set; } = 4096;
    /// <summary>On SIGTERM or Ctrl-C, how long requests in flight may run on to finish (new ones are refused at once);
    /// those left then end with a CANCELLED final event. 0 = end them at once. A second signal ends the wait.</summary>
    public double ShutdownDrainSeconds { get; set; } = 30;
    /// <summary>A session idle for longer is dropped and its KV cache freed.</summary>
    public double SessionIdleSeconds { get; set; } = 600;
    /// <summary>What one region may cost ("RegionChat:Regions": MaxPoints, MaxScribbleCost, MaxUnionParts, MaxUnionDepth,
    /// MaxMaskPixels, MaxRleRuns), the same for gRPC, gRPC-Web and /v1; checked before the region is decoded or drawn.</summary>
    public RegionBudget Regions { get; set; } = new();
    /// <summary>Slowest a request body may arrive, in bytes per second averaged after <see cref="RequestBodyGraceSeconds"/>
    /// (Kestrel's MinRequestBodyDataRate); slower ones are cut off (408). 0 = no minimum. Client-streaming gRPC calls
    /// (UploadImage, CaptionStream) are exempt: their requests pause between messages.</summary>
    public int MinRequestBodyBytesPerSecond { get; set; } = 1024;
    /// <summary>How long a request body may arrive slower than <see cref="MinRequestBodyBytesPerSecond"/> at first.</summary>
    public int RequestBodyGraceSeconds { get; set; } = 5;
    /// <summary>How long a client may take to send a request's headers (Kestrel's RequestHeadersTimeout).</summary>
    public int RequestHeadersTimeoutSeconds { get; set; } = 10;
    /// <summary>Most open connections on all listeners together (Kestrel's MaxConcurrentConnections); more are closed at
    /// once. Bodies are held in memory until a request is admitted, so this bounds that memory. 0 = no limit.</summary>
    public int MaxConnections { get; set; }
    /// <summary>Where session records (for restoring a session on any replica), leases and shared images live
    /// ("RegionChat:SessionStore"): this process's memory unless Redis is set.</summary>
    public SessionStoreSettings SessionStore { get; set; } = new();
    /// <summary>Stored label sets for Classify / ClassifyStream / POST /v1/classify (a request's label_set), by id
    /// (case-insensitive): <c>RegionChat:LabelSets:animals:Labels:0=cat</c>, … or <c>RegionChat:LabelSets:animals:File=labels.txt</c>.
    /// Checked at start as a request's labels are (1 to 1000 labels, each 1 to 300 characters, no repeats).</summary>
    public Dictionary<string, LabelSetSettings> LabelSets { get; set; } = [];
    /// <summary>An OTLP/HTTP (protobuf) traces URL, e.g. http://collector:4318/v1/traces: each request's span (joining the
    /// caller's trace from its traceparent header) and the core's chat, classify and embeddings spans go there. Empty =
    /// no tracing (no spans are made).</summary>
    public string OtlpTracesEndpoint { get; set; } = "";
    /// <summary>API keys accepted as "authorization: Bearer KEY". Empty = no authentication.</summary>
    public string[] ApiKeys { get; set; } = [];
    /// <summary>Settings of single models by id ("RegionChat:Models:&lt;id&gt;:VisualTokenBudget").</summary>
    public Dictionary<string, ModelSettings> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>A "RegionChat:Models:&lt;id&gt;" section: how one model is served.</summary>
public sealed class ModelSettings
{
    /// <summary>Visual tokens kept per image when a request sets no visual_token_budget: 0 (the default) or at least the
    /// model's count keeps all; else the region's patches first, by the vision tower's CLS attention (README "Visual-token
    /// budget"). At most 1048576; with a CLS token (select_feature "cls_patch") not 1.</summary>
    public int VisualTokenBudget { get; set; }
}

/// <summary>The "RegionChat:SessionStore" section.</summary>
/// <summary>One stored label set: its labels, or a file of them (exactly one of the two).</summary>
public sealed class LabelSetSettings
{
    /// <summary>The labels, in order.</summary>
    public List<string> Labels { get; set; } = [];
    /// <summary>A labels file: one label per line, trimmed; empty lines and lines starting with '#' skipped. A relative
    /// path is taken from the current directory.</summary>
    public string File { get; set; } = "";

    /// <summary>The set's labels (reading its file), or why it cannot be used.</summary>
    internal (string[] Labels, string? Problem) Load()
    {
        if ((Labels.Count > 0) == (File.Length > 0)) return ([], " needs Labels or File (one of them)");
        if (File.Length == 0) return ([.. Labels], null);
        try { return (LabelSets.ReadFile(Path.GetFullPath(File)), null); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return ([], $"File: '{File}' cannot be read: {e.Message}");
        }
    }
}

public sealed class SessionStoreSettings
{
    /// <summary>A StackExchange.Redis connection string ("127.0.0.1:6379,password=…"); empty = in memory (one server).</summary>
    public string Redis { get; set; } = "";
    /// <summary>Prefix of every Redis key.</summary>
    public string KeyPrefix { get; set; } = "regionchat:";
    /// <summary>In memory: byte budget of all session records (least recently used dropped first).</summary>
    public long MaxBytes { get; set; } = 256L << 20;
    /// <summary>A folder every replica mounts (a volume, NFS) where shared images go instead of Redis; empty = Redis when
    /// set, else none (images stay in each process).</summary>
    public string ImageFolder { get; set; } = "";
    /// <summary>Redis or the image folder: byte budget of the shared images (oldest dropped first).</summary>
    public long ImageBytes { get; set; } = 1L << 30;
    /// <summary>Redis or the image folder: how long a shared image lives after it was last stored.</summary>
    public double ImageSeconds { get; set; } = 3600;
    /// <summary>How long a session's write lease lives unless renewed (renewed while a turn runs).</summary>
    public double LeaseSeconds { get; set; } = 15;
}

/// <summary>The "RegionChat:Cors" section.</summary>
public sealed class CorsSettings
{
    /// <summary>Origins (scheme://host[:port]) whose pages may call the HTTP/1.1 listener (gRPC-Web and /v1);
    /// "*" = any origin. Empty = none: only pages served by the server itself (same origin).</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>The "RegionChat:OpenAi" section.</summary>
public sealed class OpenAiSettings
{
    /// <summary>A folder from which image_url may name local files (file:///… or a path relative to it). Empty = local
    /// files are refused. Paths are confined to it (symbolic links included).</summary>
    public string AllowedLocalImageFolder { get; set; } = "";
    /// <summary>Largest request body in bytes (413 beyond it). Base64 makes an image a third larger, so the default
    /// leaves room for a 20 MiB image.</summary>
    public long MaxRequestBytes { get; set; } = 32L << 20;
}
