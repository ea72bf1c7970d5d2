using RegionChat.Data.Batch;
using RegionChat.Inference;

namespace RegionChat.CaptionBatch;

/// <summary>What a batch job does with each item.</summary>
public enum CaptionBatchTask
{
    /// <summary>Caption the region: <c>{"id","caption","model","timings"}</c> (with <see cref="CaptionBatchOptions.Logprobs"/>
    /// also <c>"logprob"</c> and <c>"tokens"</c>).</summary>
    Caption,
    /// <summary>Zero-shot classification of the region over <see cref="CaptionBatchOptions.Labels"/>:
    /// <c>{"id","labels":[{"label","p"}…],"model","timings"}</c>, the top <see cref="CaptionBatchOptions.Top"/> best first.</summary>
    Classify,
    /// <summary>Embed the region in the model's joint CLIP space (its classifier's, as Embed does):
    /// <c>{"id","embedding":[…],"model","timings"}</c>, an L2-normalised vector.</summary>
    Embed,
}

/// <summary>What a caption batch job reads, where it writes, and who captions: servers or an in-process model.</summary>
public sealed record CaptionBatchOptions
{
    /// <summary>Caption (default), classify or embed each item.</summary>
    public CaptionBatchTask TaskKind { get; init; } = CaptionBatchTask.Caption;
    /// <summary>Classify: the labels every region is scored against (1 to 1000, as a Classify request takes them).</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>Classify: labels written per item, best first; 0 = all.</summary>
    public int Top { get; init; } = 5;
    /// <summary>JSONL (<c>{"id","image","region","instruction"?}</c> per line) or COCO-style JSON; told apart by content.</summary>
    public required string InputPath { get; init; }
    /// <summary>Output JSONL: <c>{"id","caption","model","timings"}</c> per captioned item (and failures, unless
    /// <see cref="ErrorsPath"/> is set). Appended to and resumed: ids already in it are skipped.</summary>
    public required string OutputPath { get; init; }
    /// <summary>Failures (<c>{"id","error"}</c>) go here instead of the output; ids in it are skipped on resume too.</summary>
    public string? ErrorsPath { get; init; }
    /// <summary>Server addresses (http://host:port; "host:port" means h2c). Several spread the items and take over each
    /// other's work when one fails. Exactly one of <see cref="Servers"/> and <see cref="ModelDir"/>.</summary>
    public IReadOnlyList<string> Servers { get; init; } = [];
    /// <summary>A model folder to caption with in-process (no server).</summary>
    public string? ModelDir { get; init; }
    /// <summary>Items in flight per server (CaptionStream / ClassifyStream / EmbedStream window), or in-process (parallel sequences).</summary>
    public int Concurrency { get; init; } = 8;
    /// <summary>CaptionStream calls per server, each with <see cref="Concurrency"/> items in flight and its own routing key
    /// (the x-regionchat-session header), so that a load balancer in front of several replicas (deploy/nginx) spreads
    /// them: one stream would stay on one replica. 1 (the default) suits a single server.</summary>
    public int Streams { get; init; } = 1;
    /// <summary>Instruction for items that carry none; null = the model's default caption prompt.</summary>
    public string? Instruction { get; init; }
    /// <summary>Retries of an item after a transient failure (server unavailable, transport error, queue full), and
    /// consecutive failed connection attempts before a server counts as down.</summary>
    public int Retries { get; init; } = 3;
    /// <summary>COCO input: caption the segmentation (mask) or the bbox.</summary>
    public CocoRegionSource RegionFrom { get; init; } = CocoRegionSource.Mask;
    /// <summary>COCO input: folder the images' file names are relative to (default: the input file's folder).</summary>
    public string? ImageRoot { get; init; }
    /// <summary>Sent as "authorization: Bearer KEY" to every server.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Most tokens per caption; 0 = the server's default (in-process: 256).</summary>
    public int MaxTokens { get; init; }
    /// <summary>Caption: add <c>"logprob"</c>, the caption's log-probability under the model (the sum of its tokens'
    /// log-probabilities: a confidence to rank or filter captions by), and <c>"tokens"</c>, their count.</summary>
    public bool Logprobs { get; init; }
    /// <summary>Caption: each answer is one JSON object (<c>--json</c>); its record also holds it parsed, as <c>"json"</c>.</summary>
    public bool Json { get; init; }
    /// <summary>Caption: each answer is the JSON this JSON Schema allows (<c>--json-schema FILE</c>, the file's text);
    /// its record also holds it parsed, as <c>"json"</c>.</summary>
    public string? JsonSchema { get; init; }
    /// <summary>Caption: each answer is exactly one of these (<c>--choices FILE</c>, one per line).</summary>
    public IReadOnlyList<string> Choices { get; init; } = [];
    /// <summary>Caption: each answer is text this regular expression matches whole (<c>--regex PATTERN</c>).</summary>
    public string? Regex { get; init; }

    /// <summary>The shape every answer keeps, from <see cref="Json"/>, <see cref="JsonSchema"/>, <see cref="Choices"/> or
    /// <see cref="Regex"/>.</summary>
    public AnswerFormat? AnswerFormat =>
        Json ? AnswerFormat.JsonObject : JsonSchema != null ? AnswerFormat.JsonSchema(JsonSchema) : Regex != null ? AnswerFormat.Regex(Regex)
        : Choices.Count > 0 ? AnswerFormat.Choice(Choices) : null;

    /// <summary>The option that set <see cref="AnswerFormat"/>.</summary>
    public string FormatOption => Json ? "--json" : JsonSchema != null ? "--json-schema" : Regex != null ? "--regex" : "--choices";
    /// <summary>Caption only the items of this shard (<c>--shard I/N</c>: ids whose FNV-1a hash is I modulo N); the
    /// default is the whole input. Each shard writes its own output and resumes like an unsplit job.</summary>
    public CaptionBatchShard Shard { get; init; } = CaptionBatchShard.All;
    /// <summary>In-process: CPU threads for llama.cpp and TorchSharp.</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>In-process: LLM context (KV cells shared by the parallel sequences).</summary>
    public int ContextSize { get; init; } = 8192;
    /// <summary>First retry delay; doubled per failure up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(8);
    /// <summary>Servers: a stream with items in flight that answers none of them for this long counts as failed (a server
    /// that hangs while its connection stays up): its items go back to the queue for the other servers and it reconnects.
    /// Measured from the stream's last answer or the item's sending, whichever is later, so items queued behind others on
    /// the server do not count it. <see cref="TimeSpan.Zero"/>: no limit.</summary>
    public TimeSpan ItemTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Servers: how long the job waits, once every server is down, for one to come back (a server restarting
    /// loads its model first) before it stops with the items left for a rerun. <see cref="TimeSpan.Zero"/>: stop at once.</summary>
    public TimeSpan ServerWait { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Report progress this often too, whether or not an item finished, so that a job waiting on a server that
    /// does not answer still shows where it stands; <see cref="TimeSpan.Zero"/> (the default): only after each finished item.</summary>
    public TimeSpan ProgressInterval { get; init; }
    /// <summary>Servers: after this long without a frame from a server while a call runs, the client pings it (HTTP/2),
    /// and a ping unanswered for as long again fails the connection (a server that froze or vanished without closing it).</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(20);

    public const int MaxConcurrency = 256;
    public const int MaxStreams = 64;

    /// <exception cref="ArgumentException">A bad combination or value, named by its CLI option.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(InputPath)) throw new ArgumentException("--input is required");
        if (string.IsNullOrWhiteSpace(OutputPath)) throw new ArgumentException("--output is required");
        if (Servers.Count == 0 && ModelDir == null) throw new ArgumentException("give --server URL (one or more) or --model DIR");
        if (Servers.Count > 0 && ModelDir != null) throw new ArgumentException("give --server or --model, not both");
        if (Servers.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("--server: an address is empty");
        if (Servers.Distinct(StringComparer.OrdinalIgnoreCase).Count() != Servers.Count) throw new ArgumentException("--server: the same " +
            "address is given twice");
        if (Concurrency < 1 || Concurrency > MaxConcurrency) throw new ArgumentException($"--concurrency must be in [1, {MaxConcurrency}], got {Concurrency}");
        if (Streams < 1 || Streams > MaxStreams) throw new ArgumentException($"--streams must be in [1, {MaxStreams}], got {Streams}");
        if (Retries < 0 || Retries > 100) throw new ArgumentException($"--retries must be in [0, 100], got {Retries}");
        if (MaxTokens < 0 || MaxTokens > 1 << 20) throw new ArgumentException($"--max-tokens must be >= 0 (0 = the server's default), got {MaxTokens}");
        if (Shard.Count < 1 || Shard.Count > CaptionBatchShard.MaxCount || Shard.Index < 0 || Shard.Index >= Shard.Count)
            throw new ArgumentException($"--shard must be I/N with 0 <= I < N <= {CaptionBatchShard.MaxCount}, got {Shard.Index}/{Shard.Count}");
        if (TaskKind == CaptionBatchTask.Classify)
        {
            if (Labels.Count == 0) throw new ArgumentException("--task classify needs --labels-file FILE (one label per line)");
            if (Labels.Count > 1000) throw new ArgumentException($"--labels-file holds {Labels.Count} labels; the limit is 1000");
            if (Top < 0) throw new ArgumentException($"--top must be >= 0 (0 = all labels), got {Top}");
        }
        else if (Labels.Count > 0) throw new ArgumentException("--labels-file is for --task classify");
        if (TaskKind != CaptionBatchTask.Caption)
        {
            if (Instruction != null) throw new ArgumentException("--instruction is for --task caption");
            if (Logprobs) throw new ArgumentException("--logprobs is for --task caption");
            if (AnswerFormat != null) throw new ArgumentException($"{FormatOption} is for --task caption");
        }
        if ((Json ? 1 : 0) + (JsonSchema != null ? 1 : 0) + (Choices.Count > 0 ? 1 : 0) + (Regex != null ? 1 : 0) > 1)
            throw new ArgumentException("give one of --json, --json-schema, --choices and --regex");
        if (AnswerFormat?.Problem() is { } problem) throw new ArgumentException($"{FormatOption}: {problem}");
        if (Threads < 1 || Threads > 1024) throw new ArgumentException($"--threads must be in [1, 1024], got {Threads}");
        if (ContextSize < 256) throw new ArgumentException($"--context must be at least 256, got {ContextSize}");
        if (Backoff < TimeSpan.Zero || MaxBackoff < Backoff) throw new ArgumentException("the backoff must be >= 0 and at most the maximum backoff");
        if (ServerWait < TimeSpan.Zero || ServerWait > TimeSpan.FromDays(1))
            throw new ArgumentException($"--server-wait must be in [0, 86400] seconds, got {ServerWait.TotalSeconds}");
        if (ItemTimeout < TimeSpan.Zero || ItemTimeout > TimeSpan.FromDays(1))
            throw new ArgumentException($"--item-timeout must be in [0, 86400] seconds (0 = no limit), got {ItemTimeout.TotalSeconds}");
        if (ProgressInterval < TimeSpan.Zero) throw new ArgumentException($"the progress interval must be >= 0, got {ProgressInterval}");
        // SocketsHttpHandler's smallest ping delay.
        if (KeepAlive < TimeSpan.FromSeconds(1)) throw new ArgumentException($"the keepalive must be at least 1 s, got {KeepAlive.TotalSeconds} s");
        if (ErrorsPath != null && SamePath(ErrorsPath, OutputPath)) throw new ArgumentException(
            "--errors must be another file than --output (leave it out to keep failures in the output)");
        if (SamePath(InputPath, OutputPath) || (ErrorsPath != null && SamePath(InputPath, ErrorsPath)))
            throw new ArgumentException("--output and --errors must not be the input file");
    }

    static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
