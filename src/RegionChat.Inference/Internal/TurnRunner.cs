using System.Diagnostics;
using System.Runtime.CompilerServices;
using RegionChat.Data.Regions;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Inference.Internal;

/// <summary>
/// The turn: resolves model, session and images, gets the visual tokens (cache, else the vision batcher), then yields
/// the LLM's answer as plain events. Every caller's turn runs here: gRPC, OpenAI, in-process caption, caption
/// batches, benchmarks and evaluation.
/// </summary>
internal sealed class TurnRunner(
    ModelRegistry models, SessionStore sessions, ImageStore images, VisualTokenCache visualCache, VisionBatcher vision,
    RegionChatMetrics metrics, ShutdownSignal shutdown, RegionChatCoreOptions options)
{
    /// <summary>The accumulating timings of one turn.</summary>
    sealed class Clock
    {
        public double QueueMs, ImageDecodeMs, VisionEncodeMs, TimeToFirstTokenMs;
        public bool VisualCacheHit;
    }

    public async IAsyncEnumerable<TurnEvent> RunAsync(TurnRequest turn, [EnumeratorCancellation] CancellationToken ct)
    {
        var arrived = Stopwatch.StartNew();
        var f = turn.Fields;
        var check = new RequestValidator(options);
        var sampling = turn.Sampling.Resolve(options, check.Add);
        check.History(turn.Messages, turn.SystemPrompt, f.Text);
        check.Id(turn.Model, f.Model);
        check.Id(turn.SessionId, f.Session);
        if (turn.NewSessionId.Length > 0)
        {
            if (turn.SessionId.Length > 0)
                check.Add(f.NewSession, $"names a new session, but the request continues session '{ClientText.Quote(turn.SessionId)}'");
            else if (SessionIds.Check(turn.NewSessionId, options.MaxIdLength) is { } bad) check.Add(f.NewSession, bad);
        }
        foreach (var m in turn.Messages)
            if (m.Image?.Input?.StoredId is { } storedId) check.Id(storedId, m.Image.ImageField + ".image_id");
        check.ThrowIfAny();
        var model = Model(turn.Model) ?? throw RegionChatCoreException.NotFound(
            $"model '{ClientText.Quote(turn.Model)}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");

        ChatSessionEntry? session = null;
        if (turn.NewSessionId.Length > 0 && sessions.Get(turn.NewSessionId) != null) throw SessionTaken(turn.NewSessionId);
        if (turn.SessionId.Length > 0)
        {
            session = sessions.Get(turn.SessionId) ?? throw SessionGone(turn.SessionId);
            session.Touch(); // keeps the idle sweeper off it while its image is being encoded
            if (turn.Model.Length > 0 && turn.Model != session.Model.Id)
                throw RegionChatCoreException.InvalidArgument(f.Model, $"session '{ClientText.Quote(turn.SessionId)}' belongs to model '{session.Model.Id}'");
            model = session.Model;
        }

        // Images and regions → visual tokens.
        var clock = new Clock();
        var visuals = new EmbeddingBlock?[turn.Messages.Count];
        string? imageId = null;
        int imageCount = 0, hits = 0;
        for (int i = 0; i < turn.Messages.Count; i++)
        {
            var image = turn.Messages[i].Image;
            if (image == null) continue;
            imageId = image.Input != null ? ResolveImage(image.Input, image, clock)
                : imageId ?? session?.LastImageId ?? throw RegionChatCoreException.InvalidArgument(image.RegionField,
                    "a region needs an image: send one in this turn or an earlier turn of the session");
            var (block, hit) = await VisualTokensAsync(model, imageId, image, clock, ct).ConfigureAwait(false);
            visuals[i] = block;
            imageCount++;
            if (hit) hits++;
        }
        clock.VisualCacheHit = imageCount > 0 && hits == imageCount;
        // A question is stripped before it is rendered, as LLaVA's conversation template does: the model was trained
        // on "USER: <image>\nwhat is it? ASSISTANT:", and stray spaces or newlines would be tokens it never saw there.
        var messages = turn.Messages.Select((m, i) => m.Role == TurnRole.User
            ? ChatMessage.User(m.Text.Trim() is { Length: > 0 } text ? text : model.Manifest.DefaultInstruction, visuals[i])
            : ChatMessage.Assistant(m.Text)).ToArray();
        int visualTokens = visuals.Sum(v => v?.Count ?? 0);

        bool ownSession = session == null;
        session ??= sessions.Create(model, turn.SystemPrompt.Length > 0 ? turn.SystemPrompt : null, turn.NewSessionId.Length > 0 ? turn.NewSessionId : null)
            ?? throw SessionTaken(turn.NewSessionId);
        if (Interlocked.Exchange(ref session.Busy, 1) == 1)
            throw new RegionChatCoreException(RegionChatErrorKind.SessionBusy, $"session '{session.Id}' is answering another turn; wait for it to finish");
        bool announced = false;
        try
        {
            session.Touch();
            if (imageId != null) session.LastImageId = imageId;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Token);
            bool started = false, first = true;
            IAsyncEnumerator<GenerationEvent> stream;
            try
            {
                // Arguments and the sequence's state (evicted, closed) are checked here, before the stream starts.
                stream = session.Chat.GenerateAsync(messages, model.WithModelStops(sampling), linked.Token).GetAsyncEnumerator(linked.Token);
            }
            catch (Exception e) when (Failure(e, session, f, ct) is { } failure)
            {
                throw failure;
            }
            await using var streamScope = stream.ConfigureAwait(false);
            while (true)
            {
                GenerationEvent ev;
                try
                {
                    if (!await stream.MoveNextAsync().ConfigureAwait(false)) break;
                    ev = stream.Current;
                }
                catch (Exception e) when (Failure(e, session, f, ct) is { } failure)
                {
                    throw failure;
                }
                // The caller is gone (cancel or deadline): the engine is stopping; nothing more is yielded.
                if (ct.IsCancellationRequested) continue;
                switch (ev)
                {
                    case PromptAdmitted a:
                        started = true;
                        clock.QueueMs = a.QueueMs;
                        announced = true;
                        yield return new TurnStarted(session.Id, model.Id, a.PromptTokens, a.CachedTokens, visualTokens, turn.RequestId);
                        break;
                    case TextPiece t:
                        if (first)
                        {
                            first = false;
                            clock.TimeToFirstTokenMs = arrived.Elapsed.TotalMilliseconds;
                            metrics.TimeToFirstToken.Record(clock.TimeToFirstTokenMs);
                        }
                        yield return new TurnText(t.Text);
                        break;
                    case GenerationFinished g:
                        // Ended before admission, and not by the caller (handled above): the shutdown cancelled it while
                        // it waited. Nothing was started, so the turn is refused (a turn must begin with TurnStarted)
                        // and the caller may retry elsewhere.
                        if (!started) throw RegionChatCoreException.Unavailable("the server is shutting down; the request was not started");
                        if (g.Timings.DecodeTokensPerSecond > 0) metrics.DecodeTokensPerSecond.Record(g.Timings.DecodeTokensPerSecond);
                        metrics.PromptTokens.Add(g.Usage.PromptTokens);
                        metrics.CachedTokens.Add(g.Usage.CachedTokens);
                        metrics.CompletionTokens.Add(g.Usage.CompletionTokens);
                        var reason = g.Reason switch
                        {
                            FinishReason.Stop => TurnFinishReason.Stop,
                            FinishReason.Length => TurnFinishReason.Length,
                            _ => TurnFinishReason.Cancelled,
                        };
                        yield return new TurnFinished(reason,
                            new TurnUsage(g.Usage.PromptTokens, g.Usage.CachedTokens, g.Usage.CompletionTokens, visualTokens),
                            new TurnTimings
                            {
                                QueueMs = clock.QueueMs, ImageDecodeMs = clock.ImageDecodeMs, VisionEncodeMs = clock.VisionEncodeMs,
                                PrefillMs = g.Timings.PrefillMs, DecodeMs = g.Timings.DecodeMs, TimeToFirstTokenMs = clock.TimeToFirstTokenMs,
                                DecodeTokensPerSecond = g.Timings.DecodeTokensPerSecond, VisualCacheHit = clock.VisualCacheHit,
                            });
                        break;
                }
            }
        }
        finally
        {
            session.Touch();
            Volatile.Write(ref session.Busy, 0);
            // A new session whose id never reached the caller (the turn failed first) would only wait to expire.
            if (ownSession && (!turn.KeepSession || !announced)) sessions.Remove(session.Id);
        }
    }

    RegionChatModel? Model(string id)
    {
        try { return models.Get(id); }
        catch (ModelManifestException e) { throw new RegionChatCoreException(RegionChatErrorKind.ModelUnavailable, e.Message, inner: e); }
    }

    static RegionChatCoreException SessionTaken(string id) => new(RegionChatErrorKind.AlreadyExists,
        $"session '{id}' already exists: a new session needs an id not in use (continue that one with session_id, or choose another)");

    static RegionChatCoreException SessionGone(string id) => RegionChatCoreException.NotFound(
        $"session '{ClientText.Quote(id)}' is unknown, expired or was evicted; start a new session (its history is gone, so it is not answered without it)");

    /// <summary>What an engine failure means for the caller; null for failures that are not the request's.</summary>
    RegionChatCoreException? Failure(Exception e, ChatSessionEntry session, TurnFields f, CancellationToken ct)
    {
        switch (e)
        {
            case SequenceEvictedException:
                sessions.Remove(session.Id);
                return RegionChatCoreException.NotFound($"session '{session.Id}' was evicted to free KV cache space; its history is gone, start a new session");
            case ContextOverflowException o:
                return ContextFailure(o, session, f);
            case ObjectDisposedException when shutdown.IsShuttingDown:
                return RegionChatCoreException.Unavailable("the server is shutting down");
            case ObjectDisposedException when !ct.IsCancellationRequested:
                // The session expired or was ended between lookup and generation.
                return SessionGone(session.Id);
            case ArgumentException when !ct.IsCancellationRequested:
                return RegionChatCoreException.InvalidArgument(f.Text, e.Message, e);
            default:
                return null;
        }
    }

    /// <summary>
    /// A turn that outgrows the positions one session may hold (the model's trained context, capped at the serving
    /// context). A session with history is refused as a state (FailedPrecondition: only a new session helps), a first
    /// turn as a too-long prompt, and a requested max_tokens that does not fit as that field.
    /// </summary>
    static RegionChatCoreException ContextFailure(ContextOverflowException e, ChatSessionEntry session, TurnFields f)
    {
        var facts = session.Model.Llm.Facts;
        string limit = facts.SequenceLimit < facts.ContextSize
            ? $"{facts.SequenceLimit} positions (the model's trained context, GGUF llama.context_length)"
            : $"{facts.SequenceLimit} positions (the serving context, RegionChat:ContextSize)";
        switch (e.Kind)
        {
            case ContextOverflowKind.Prompt when e.CachedTokens > 0:
                return new RegionChatCoreException(RegionChatErrorKind.FailedPrecondition,
                    $"session '{session.Id}' is full for this turn: it holds {e.CachedTokens} positions and the turn needs " +
                    $"{e.Needed - e.CachedTokens} more, but a session may hold {limit}; send a shorter turn (room for " +
                    $"{Math.Max(0, e.Available - e.CachedTokens)} positions), or end this session and start a new one",
                    inner: e);
            case ContextOverflowKind.Prompt:
                return RegionChatCoreException.InvalidArgument(f.Text,
                    $"{e.Message}: text, template and visual tokens together; a session may hold {limit}", e);
            case ContextOverflowKind.MaxTokens:
                return RegionChatCoreException.InvalidArgument("max_tokens",
                    $"{e.Message} (a session may hold {limit}); ask for fewer tokens" + (e.CachedTokens > 0 ? " or start a new session" : ""), e);
            default:
                return RegionChatCoreException.InvalidArgument(f.Text, e.Message, e);
        }
    }

    /// <summary>Stores inline bytes or looks up an id; returns the image id.</summary>
    string ResolveImage(ImageInput input, TurnImage image, Clock clock)
    {
        if (input.Bytes is { } bytes)
        {
            if (bytes.Length > options.MaxImageBytes)
                throw RegionChatCoreException.InvalidArgument(image.DataField, ImageSizeLimit.TooLarge(bytes.Length, options.MaxImageBytes));
            var sw = Stopwatch.StartNew();
            try
            {
                // Checked by a full decode when new; the pixels are decoded again only on a visual-cache miss, which
                // keeps memory flat under many images.
                var stored = images.Put(bytes, out bool decoded);
                if (decoded) clock.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
                return stored.Id;
            }
            catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(image.DataField, e.Message, e); }
        }
        if (input.StoredId is { } given)
        {
            string? id = ImageStore.NormaliseId(given);
            if (id == null) throw RegionChatCoreException.InvalidArgument(image.ImageField + ".image_id", "must be \"sha256:\" followed by 64 hex digits");
            if (!images.TryGet(id, out _)) throw RegionChatCoreException.NotFound($"image '{id}' is not stored here (never uploaded, or dropped from the " +
                "image store); upload it again");
            return id;
        }
        throw RegionChatCoreException.InvalidArgument(image.ImageField, "needs data or image_id");
    }

    /// <summary>The visual tokens of (model, image, region), from the cache or the vision batcher; true when cached.</summary>
    async Task<(EmbeddingBlock Block, bool Hit)> VisualTokensAsync(RegionChatModel model, string imageId, TurnImage image,
        Clock clock, CancellationToken ct)
    {
        var key = new VisualTokenCache.Key(model.Id, imageId, image.Region.CacheKey);
        if (visualCache.TryGet(key, out var cached))
        {
            metrics.VisualCacheHits.Add(1);
            return (cached.Block, true);
        }
        metrics.VisualCacheMisses.Add(1);
        if (!images.TryGet(imageId,
            out var stored)) throw RegionChatCoreException.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
        var sw = Stopwatch.StartNew();
        PreprocessedImage input;
        try
        {
            using var decoded = image.Region.Decode(stored, images.Limits, options.Regions);
            clock.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
            input = model.Preprocess(decoded.Image, decoded.Region, ct);
        }
        catch (InvalidRegionException e)
        {
            throw RegionChatCoreException.InvalidArgument(image.Region.ErrorField(image.RegionField, e), e.Description, e);
        }
        catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(image.ImageField, e.Message, e); }
        var tokens = await vision.EncodeAsync(model, input, ct).ConfigureAwait(false);
        clock.VisionEncodeMs += tokens.EncodeMs;
        visualCache.Set(key, tokens);
        return (tokens.Block, false);
    }
}
