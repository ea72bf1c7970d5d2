using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RegionChat.Inference.Internal;
using RegionChat.Vision.Imaging;

namespace RegionChat.Inference;

/// <summary>
/// The serving core, transport-neutral: turns (<see cref="RunTurnAsync"/>) on the served models with sessions, an
/// image store, a visual-token cache, batched vision forwards, an admission queue and metrics. The server's gRPC and
/// OpenAI endpoints map their messages onto it; in-process caption, caption batches, `bench server` and
/// `eval shapes` call it directly. Failures are <see cref="RegionChatCoreException"/>s with a kind. Thread-safe.
/// </summary>
public sealed class RegionChatCore : IDisposable
{
    readonly ModelRegistry models;
    readonly ImageStore images;
    readonly ShutdownSignal shutdown = new();
    int cutShort; // requests in flight when the stop came
    readonly TurnRunner turns;
    readonly ClassifyRunner classify;
    readonly ILogger log;

    /// <summary>Serves every model folder under <see cref="RegionChatCoreOptions.ModelsPath"/>.</summary>
    public RegionChatCore(RegionChatCoreOptions options, ILogger? log = null)
        : this(options, new ModelRegistry(options, log ?? NullLogger.Instance), log ?? NullLogger.Instance) { }

    RegionChatCore(RegionChatCoreOptions options, ModelRegistry registry, ILogger log)
    {
        Options = options;
        models = registry;
        this.log = log;
        // At most Threads decodes at once (0: one per core): each holds up to MaxImagePixels of pixels.
        images = new ImageStore(options.ImageStoreBytes, new ImageLimits { MaxBytes = options.MaxImageBytes, MaxPixels = options.MaxImagePixels },
            options.Threads);
        var idle = TimeSpan.FromSeconds(options.SessionIdleSeconds);
        Sessions = new SessionStore(idle);
        Records = options.SessionStore.Redis.Length > 0
            ? new RedisSessionRecordStore(options.SessionStore, idle)
            : new InMemorySessionRecordStore(idle, options.SessionStore.MaxBytes);
        if (options.SessionStore.ImageFolder.Length > 0)
            Records = new FolderImageStore(Records, Directory.CreateDirectory(options.SessionStore.ImageFolder).FullName, options.SessionStore);
        CoreLog.SessionStoreKind(log, Records.Kind);
        Admission = new AdmissionQueue(Math.Max(1, options.QueueSize));
        VisionBatcher = new VisionBatcher(options.VisionMaxBatch);
        var towerPixels = new TowerPixelCache(options.TowerPixelCacheBytes);
        turns = new TurnRunner(models, Sessions, Records, images, new VisualTokenCache(options.VisualCacheBytes), towerPixels, VisionBatcher,
            Metrics, shutdown, options, log);
        classify = new ClassifyRunner(models, images, towerPixels, VisionBatcher, options, Metrics);
    }

    /// <summary>Serves the one model in <paramref name="modelFolder"/> (its model.json), as the default model; throws
    /// <see cref="ModelManifestException"/> when the manifest is bad. The model loads on <see cref="LoadDefaultModel"/>
    /// or the first turn.</summary>
    public static RegionChatCore ForModelFolder(string modelFolder, RegionChatCoreOptions options, ILogger? log = null) =>
        new(options, new ModelRegistry(ModelManifest.Load(modelFolder), options, log ?? NullLogger.Instance), log ?? NullLogger.Instance);

    public RegionChatCoreOptions Options { get; }
    public RegionChatMetrics Metrics { get; } = new();
    public AdmissionQueue Admission { get; }
    /// <summary>The vision forwards of all turns, batched.</summary>
    public VisionBatcher VisionBatcher { get; }
    /// <summary>The folder the models were found in.</summary>
    public string ModelsPath => models.ModelsPath;
    public string DefaultModelId => models.DefaultModelId;
    /// <summary>The ids of the served models (each folder with a valid model.json).</summary>
    public IReadOnlyCollection<string> ModelIds => models.Manifests.Keys.ToArray();

    internal SessionStore Sessions { get; }
    /// <summary>The session records (what each session is, for restoring it anywhere), leases and shared images.</summary>
    internal ISessionRecordStore Records { get; }
    internal ShutdownSignal Shutdown => shutdown;
    /// <summary>A served model, loading it if needed ("" = the default); null when not served. For work beside turns
    /// on the same loaded towers (zero-shot evaluation); turns go through <see cref="RunTurnAsync"/>.</summary>
    public RegionChatModel? Model(string id = "") => models.Get(id);

    /// <summary>Loads the default model now (so a broken one fails at start) and describes it. Throws
    /// <see cref="ModelManifestException"/> and the loaders' exceptions as they come.</summary>
    public ModelDescription LoadDefaultModel() => ModelDescription.Of(models.LoadDefault());

    /// <summary>Each served model's load state (loaded, failed and why, not loaded yet), for health checks; loads nothing.</summary>
    public IReadOnlyList<ModelLoadStatus> ModelStatuses() => models.Statuses();

    /// <summary>
    /// Runs one turn and yields its events: <see cref="TurnStarted"/>, <see cref="TurnText"/> pieces,
    /// <see cref="TurnFinished"/>. Fails with <see cref="RegionChatCoreException"/>; cancelling <paramref name="ct"/> stops
    /// the generation within a token (the events stop; the session keeps its earlier turns).
    /// </summary>
    public IAsyncEnumerable<TurnEvent> RunTurnAsync(TurnRequest request, CancellationToken ct = default) => turns.RunAsync(request, ct);

    /// <summary>
    /// Zero-shot classification of one image's regions over the request's labels with the model's classifier (its
    /// manifest's <c>classifier</c> section): per region the labels ranked with softmax probabilities and logits. Fails
    /// with <see cref="RegionChatCoreException"/>: InvalidArgument naming the field (no labels, more than
    /// 1000, an empty, repeated or over-300-character label, more than 16 regions, a bad region or image), NotFound
    /// (model, stored image), FailedPrecondition (a model without a classifier).
    /// </summary>
    public Task<ClassifyResult> ClassifyAsync(ClassifyRequest request, CancellationToken ct = default) => classify.RunAsync(request, ct);

    /// <summary>
    /// Embeds regions of an image (the Alpha-CLIP tower's pooled, projected output with each region as alpha) and texts
    /// (the classifier's text tower over its prompt templates) in the model's joint space, each L2-normalised: the
    /// vectors Classify compares, for search and clustering. Limits and failures as for Classify (texts as labels, but
    /// up to 2000 characters within the text tower's context, and repeats allowed; an image or a text is required,
    /// regions need the image).
    /// </summary>
    public Task<EmbedResult> EmbedAsync(EmbedRequest request, CancellationToken ct = default) => classify.EmbedAsync(request, ct);

    /// <summary>At most this many token ids per <see cref="Detokenize"/>.</summary>
    public const int MaxDetokenizeTokens = 65536;

    /// <summary>
    /// The model's LLM token ids of <paramref name="text"/>, each with its bytes, as a turn tokenises its own text (text
    /// such as "&lt;s&gt;" stays text, never a control token), BOS first when <paramref name="addBos"/> and the model has
    /// one: the ids logit_bias names. Fails with <see cref="RegionChatCoreException"/>: InvalidArgument naming
    /// <paramref name="field"/> over <see cref="RegionChatCoreOptions.MaxPromptBytes"/>, NotFound for a model not served.
    /// </summary>
    public TokenizeResult Tokenize(string model, string text, bool addBos, string field = "prompt")
    {
        var v = new RequestValidator(Options);
        v.Text(text, field, required: false);
        v.ThrowIfAny();
        var m = ServedModel(model);
        var tokens = m.Llm.Tokenize(text, addBos).Select(id => new TextToken(id, m.Llm.TokenBytes(id))).ToArray();
        return new TokenizeResult(m.Id, tokens, m.Llm.Facts.SequenceLimit);
    }

    /// <summary>The text token ids stand for (control tokens stand for none). Fails with
    /// <see cref="RegionChatCoreException"/>: InvalidArgument naming <paramref name="field"/> (more than
    /// <see cref="MaxDetokenizeTokens"/>) or "field[i]" (not an id of the model's vocabulary), NotFound for a model not
    /// served.</summary>
    public DetokenizeResult Detokenize(string model, IReadOnlyList<int> tokens, string field = "tokens")
    {
        if (tokens.Count > MaxDetokenizeTokens)
            throw RegionChatCoreException.InvalidArgument(field, $"at most {MaxDetokenizeTokens} token ids, got {tokens.Count}");
        var m = ServedModel(model);
        int vocabulary = m.Llm.Facts.VocabSize;
        var bytes = new List<byte>();
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] < 0 || tokens[i] >= vocabulary)
                throw RegionChatCoreException.InvalidArgument($"{field}[{i}]",
                    $"{tokens[i]} is not a token id of model '{m.Id}' (0 to {vocabulary - 1})");
            bytes.AddRange(m.Llm.TokenBytes(tokens[i]));
        }
        return new DetokenizeResult(m.Id, System.Text.Encoding.UTF8.GetString(bytes.ToArray()));
    }

    RegionChatModel ServedModel(string id) => models.Get(id) ?? throw RegionChatCoreException.NotFound(
        $"model '{ClientText.Quote(id)}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");

    /// <summary>Checks and stores an encoded image by its content id; <paramref name="field"/> is the request field
    /// errors name. New images wait for one of the decode slots (one per core).</summary>
    public async Task<StoredImageInfo> PutImageAsync(ReadOnlyMemory<byte> bytes, string field = "data", CancellationToken ct = default)
    {
        if (bytes.Length == 0) throw RegionChatCoreException.InvalidArgument(field, "is empty");
        if (bytes.Length > Options.MaxImageBytes) throw RegionChatCoreException.InvalidArgument(field,
            ImageSizeLimit.TooLarge(bytes.Length, Options.MaxImageBytes));
        StoredImage stored;
        bool decoded;
        try { (stored, decoded) = await images.PutAsync(bytes, ct).ConfigureAwait(false); }
        catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(field, e.Message, e); }
        await ShareAsync(stored, decoded).ConfigureAwait(false);
        return new StoredImageInfo(stored.Id, stored.Width, stored.Height, bytes.Length);
    }

    /// <summary>Puts an image in the shared image store too, so another replica can use its id: a new one, or one this
    /// replica had whose shared copy is gone (an image stored again lives on there too). A store that cannot be reached
    /// is logged (another replica then answers NOT_FOUND for the id, as before).</summary>
    async Task ShareAsync(StoredImage stored, bool isNew)
    {
        try
        {
            if (isNew || (await Records.TouchImagesAsync([stored.Id], CancellationToken.None).ConfigureAwait(false)).Count > 0)
                await Records.PutImageAsync(stored.Id, stored.Bytes, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SessionStoreUnavailableException e) { CoreLog.SessionStoreFailed(log, "put image", stored.Id, e.Message); }
    }

    /// <summary>The stored image with this id ("sha256:HEX" or bare HEX), or null.</summary>
    public StoredImageInfo? FindImage(string id) =>
        ImageStore.NormaliseId(id) is { } normalised && images.TryGet(normalised, out var stored)
            ? new StoredImageInfo(stored.Id, stored.Width, stored.Height, stored.Bytes.Length) : null;

    /// <summary>The content id an image's bytes are stored under.</summary>
    public static string ImageIdOf(ReadOnlySpan<byte> bytes) => ImageStore.IdOf(bytes);

    /// <summary>Ends a session and frees its KV cache; NotFound when it is unknown or already gone, unless
    /// <paramref name="retried"/>: a client's retry of a call whose answer it lost (the first attempt may have ended it).</summary>
    public void EndSession(string sessionId, bool retried = false)
    {
        var check = new RequestValidator(Options);
        check.Id(sessionId, "session_id");
        check.ThrowIfAny();
        bool live = Sessions.Remove(sessionId);
        bool recorded;
        try { recorded = Records.RemoveAsync(sessionId, CancellationToken.None).GetAwaiter().GetResult(); }
        catch (SessionStoreUnavailableException e)
        {
            if (!live)
                throw RegionChatCoreException.StoreUnavailable(
                    $"the session store cannot be reached to end session '{ClientText.Quote(sessionId)}'; retry later");
            CoreLog.SessionStoreFailed(log, "end", sessionId, e.Message);
            recorded = false;
        }
        if (!live && !recorded && !retried)
            throw RegionChatCoreException.NotFound($"session '{ClientText.Quote(sessionId)}' is unknown or already gone");
    }

    /// <summary>Drops sessions idle longer than <see cref="RegionChatCoreOptions.SessionIdleSeconds"/>; returns how many.</summary>
    public int ExpireIdleSessions()
    {
        Records.SweepIdle();
        return Sessions.SweepIdle();
    }

    /// <summary>Every served model: a loaded one described from its files, the others from their manifests (listing loads
    /// nothing, and a model that failed to load is listed as failed).</summary>
    public ModelList ListModels() =>
        new(models.DefaultModelId, models.Statuses().Select(s => s.State == ModelLoadState.Loaded
            ? ModelDescription.Of(models.Get(s.Id)!)
            : ModelDescription.Unloaded(models.Manifests[s.Id], s)).ToArray());

    /// <summary>
    /// Admits one call (a transport's request): refused as <see cref="RegionChatErrorKind.Unavailable"/> while shutting
    /// down and, with <paramref name="queued"/>, as <see cref="RegionChatErrorKind.ResourceExhausted"/> when the
    /// admission queue is full. The ticket of an admitted (queued) call counts it in <c>regionchat.requests.active</c> until
    /// disposed: the queue depth autoscalers read, so an open item stream, an upload or a listing does not count.
    /// </summary>
    public IDisposable EnterCall(bool queued = true)
    {
        if (shutdown.IsShuttingDown) throw RegionChatCoreException.Unavailable("the server is shutting down");
        var ticket = queued ? Admission.TryEnter() : null;
        if (queued && ticket == null)
            throw RegionChatCoreException.ResourceExhausted($"the server's queue is full ({Admission.Capacity} requests in flight); retry later");
        if (ticket != null) Metrics.Active(1);
        return new CallTicket(this, ticket);
    }

    sealed class CallTicket(RegionChatCore core, IDisposable? admission) : IDisposable
    {
        int disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            if (admission == null) return;
            core.Metrics.Active(-1);
            admission.Dispose();
        }
    }

    /// <summary>Stops at once: running turns end with a Cancelled finish, waiting ones and new calls are refused as
    /// <see cref="RegionChatErrorKind.Unavailable"/>.</summary>
    public void BeginShutdown()
    {
        lock (shutdown)
        {
            if (!shutdown.IsStopping) cutShort = Admission.InFlight;
            shutdown.Trigger();
        }
    }

    /// <summary>
    /// Stops gracefully: new calls are refused as <see cref="RegionChatErrorKind.Unavailable"/> at once, the admitted ones
    /// (running or waiting) run on until none is left or <paramref name="limit"/> passes, then <see cref="BeginShutdown"/>
    /// ends the rest; <see cref="BeginShutdown"/> called meanwhile (a second signal) ends the wait. Returns how many were
    /// still in flight when the stop came (0: drained).
    /// </summary>
    public async Task<int> DrainAsync(TimeSpan limit)
    {
        shutdown.Drain();
        var until = DateTime.UtcNow + limit;
        // Polled: a drain happens once in a process's life, and 50 ms is nothing beside an answer.
        while (Admission.InFlight > 0 && DateTime.UtcNow < until && !shutdown.IsStopping)
            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        BeginShutdown();
        return cutShort;
    }

    /// <summary>Draining or stopped: new calls are refused.</summary>
    public bool IsShuttingDown => shutdown.IsShuttingDown;
    /// <summary>Fires when running turns are to end (<see cref="BeginShutdown"/>, or a drain's end).</summary>
    public CancellationToken ShuttingDown => shutdown.Token;

    /// <summary>A new request id ("r-" and 12 hex digits) for logs, headers and <see cref="TurnStarted.RequestId"/>.</summary>
    public static string NewRequestId() => "r-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Sessions.Dispose();
        Records.Dispose();
        VisionBatcher.Dispose();
        models.Dispose();
        Metrics.Dispose();
    }
}
