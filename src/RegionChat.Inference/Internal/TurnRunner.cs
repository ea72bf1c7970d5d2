using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RegionChat.Data.Regions;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Internal;

/// <summary>
/// The turn: resolves model, session and images, gets the visual tokens (cache, else the vision batcher), then yields
/// the LLM's answer as plain events. Every caller's turn runs here: gRPC, OpenAI, in-process caption, caption
/// batches, benchmarks and evaluation.
/// </summary>
internal sealed class TurnRunner(
    ModelRegistry models, SessionStore sessions, ISessionRecordStore records, ImageStore images, VisualTokenCache visualCache,
    TowerPixelCache towerPixels, VisionBatcher vision, RegionChatMetrics metrics, ShutdownSignal shutdown, RegionChatCoreOptions options,
    ILogger log)
{
    /// <summary>The accumulating timings of one turn.</summary>
    sealed class Clock
    {
        public double QueueMs, ImageDecodeMs, VisionEncodeMs, TimeToFirstTokenMs;
        public bool VisualCacheHit;
    }

    /// <summary>The turn, inside its span when something listens for spans (<see cref="RegionChatTracing"/>); otherwise
    /// its events go straight through, with no extra layer on the hot path.</summary>
    public IAsyncEnumerable<TurnEvent> RunAsync(TurnRequest turn, CancellationToken ct) =>
        RegionChatTracing.Source.HasListeners() ? RunTracedAsync(turn, ct) : RunTurnAsync(turn, ct);

    /// <summary>The turn inside its span, tagged from its events as they pass.</summary>
    async IAsyncEnumerable<TurnEvent> RunTracedAsync(TurnRequest turn, [EnumeratorCancellation] CancellationToken ct)
    {
        using var activity = RegionChatTracing.Start("chat", turn.Model, turn.RequestId);
        activity?.SetTag("gen_ai.request.temperature", turn.Sampling.Temperature ?? SamplingOptions.DefaultTemperature);
        if (turn.Sampling.MaxTokens is > 0) activity?.SetTag("gen_ai.request.max_tokens", turn.Sampling.MaxTokens);
        if (turn.SessionId.Length > 0) activity?.SetTag("gen_ai.conversation.id", turn.SessionId);
        await using var events = RunTurnAsync(turn, ct).GetAsyncEnumerator(ct);
        bool first = true;
        while (true)
        {
            try
            {
                if (!await events.MoveNextAsync().ConfigureAwait(false)) break;
            }
            catch (Exception e)
            {
                RegionChatTracing.Failed(activity, e);
                throw;
            }
            if (activity != null) Tag(activity, events.Current, ref first);
            yield return events.Current;
        }
    }

    static void Tag(Activity activity, TurnEvent e, ref bool first)
    {
        switch (e)
        {
            case TurnStarted s:
                RegionChatTracing.Answered(activity, "chat", s.Model);
                activity.SetTag("gen_ai.conversation.id", s.SessionId);
                activity.SetTag("gen_ai.usage.input_tokens", s.PromptTokens);
                activity.SetTag("regionchat.cached_tokens", s.CachedTokens);
                activity.SetTag("regionchat.visual_tokens", s.VisualTokens);
                if (s.Restored) activity.SetTag("regionchat.restored_tokens", s.RestoredTokens);
                activity.AddEvent(new ActivityEvent("admitted"));
                break;
            case TurnText when first:
                first = false;
                activity.AddEvent(new ActivityEvent("first_token"));
                break;
            case TurnFinished f:
                activity.SetTag("gen_ai.usage.output_tokens", f.Usage.CompletionTokens);
                activity.SetTag("gen_ai.response.finish_reasons", new[] { f.Reason.ToString().ToLowerInvariant() });
                var t = f.Timings;
                activity.SetTag("regionchat.queue_ms", t.QueueMs);
                activity.SetTag("regionchat.image_decode_ms", t.ImageDecodeMs);
                activity.SetTag("regionchat.vision_encode_ms", t.VisionEncodeMs);
                activity.SetTag("regionchat.prefill_ms", t.PrefillMs);
                activity.SetTag("regionchat.decode_ms", t.DecodeMs);
                activity.SetTag("regionchat.time_to_first_token_ms", t.TimeToFirstTokenMs);
                activity.SetTag("regionchat.visual_cache_hit", t.VisualCacheHit);
                break;
        }
    }

    async IAsyncEnumerable<TurnEvent> RunTurnAsync(TurnRequest turn, [EnumeratorCancellation] CancellationToken ct)
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
        // The range alone here; whether it leaves a patch beside a CLS token once the model is known.
        if (turn.VisualTokenBudget is { } budget && VisualTokenSelection.Check(budget, includesCls: false) is { } badBudget)
            check.Add(f.VisualTokenBudget, badBudget);
        check.ThrowIfAny();
        var model = Model(turn.Model) ?? throw RegionChatCoreException.NotFound(
            $"model '{ClientText.Quote(turn.Model)}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");

        if (turn.NewSessionId.Length > 0 && await SessionExistsAsync(turn.NewSessionId, ct).ConfigureAwait(false))
            throw SessionTaken(turn.NewSessionId);
        var clock = new Clock();
        ChatSessionEntry? session = null;
        IAsyncDisposable? lease = null;
        string? restoredWhy = null;
        try
        {
            if (turn.SessionId.Length > 0)
            {
                (session, lease, restoredWhy) = await ContinueAsync(turn.SessionId, clock, ct).ConfigureAwait(false);
                session.Touch(); // keeps the idle sweeper off it while its image is being encoded
                if (turn.Model.Length > 0 && turn.Model != session.Model.Id)
                    throw RegionChatCoreException.InvalidArgument(f.Model,
                        $"session '{ClientText.Quote(turn.SessionId)}' belongs to model '{session.Model.Id}'");
                model = session.Model;
            }

            await foreach (var e in RunOnSessionAsync(turn, model, session, restoredWhy, sampling, clock, arrived, ct).ConfigureAwait(false))
                yield return e;
        }
        finally
        {
            if (session is { Unwritten: true, Recordable: true } unsaved && sessions.Get(unsaved.Id) == unsaved) KeepUntilWritten(unsaved, lease);
            else if (lease != null) await lease.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A session whose record could not be written (the store was away): its lease is kept, so no other replica answers
    /// from the older record, and the whole record is written again in the background, at growing intervals, until it
    /// is, the session ends or expires here, or a turn here writes it. Then the lease goes.
    /// </summary>
    void KeepUntilWritten(ChatSessionEntry session, IAsyncDisposable? lease)
    {
        if (lease != null) Interlocked.Exchange(ref session.KeptLease, lease)?.DisposeAsync();
        if (Interlocked.CompareExchange(ref session.Rewriting, 1, 0) != 0) return;
        _ = Task.Run(async () =>
        {
            try
            {
                for (int attempt = 0; session.Unwritten && sessions.Get(session.Id) == session; attempt++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 << Math.Min(attempt, 5)))).ConfigureAwait(false);
                    if (Interlocked.CompareExchange(ref session.Busy, 1, 0) != 0) continue;   // a turn runs: it writes
                    try
                    {
                        if (session.Unwritten && !await WriteRecordAsync(session, CancellationToken.None).ConfigureAwait(false))
                            sessions.Remove(session.Id);   // ended, or extended by another replica, meanwhile
                    }
                    catch (SessionStoreUnavailableException e) { CoreLog.SessionStoreFailed(log, "save again", session.Id, e.Message); }
                    finally { Volatile.Write(ref session.Busy, 0); }
                }
            }
            catch (ObjectDisposedException) { return; }   // the server stopped
            finally
            {
                Volatile.Write(ref session.Rewriting, 0);
            }
            // A turn that failed to write while this loop was ending keeps the lease for a new loop; else it goes.
            if (session.Unwritten && sessions.Get(session.Id) == session) KeepUntilWritten(session, null);
            else if (Interlocked.Exchange(ref session.KeptLease, null) is { } kept) await kept.DisposeAsync().ConfigureAwait(false);
        });
    }

    /// <summary>
    /// The live session to continue, under its write lease: the one this replica holds when it is current, else one
    /// rebuilt from the session record store (with why: "not_live", "stale"). NotFound when neither has it.
    /// </summary>
    async Task<(ChatSessionEntry Session, IAsyncDisposable? Lease, string? Restored)> ContinueAsync(string id, Clock clock, CancellationToken ct)
    {
        var live = sessions.Get(id);
        if (live != null && Volatile.Read(ref live.Busy) == 1) throw Busy(id);
        bool usable = live != null && live.Chat.Sequence.State != LlmSessionState.Closed;
        // The lease kept since a write failed is this replica's own: the turn takes it over (and writes the record).
        IAsyncDisposable? lease = live != null ? Interlocked.Exchange(ref live.KeptLease, null) : null;
        bool behind = false;   // the store holds turns the live session lacks: it must not answer
        try
        {
            lease ??= await records.TryLeaseAsync(id, ct).ConfigureAwait(false) ?? throw new RegionChatCoreException(RegionChatErrorKind.SessionLeased,
                $"session '{ClientText.Quote(id)}' is answering another turn (on this or another replica): one turn at a time; retry when it has finished");
            int stored;
            try { stored = await records.TurnCountAsync(id, ct).ConfigureAwait(false); }
            catch (SessionStoreUnavailableException e) when (usable)
            {
                CoreLog.SessionStoreFailed(log, "turn count", id, e.Message);
                return (live!, lease, null); // the store is away: the live session goes on, and is written again later
            }
            if (stored == ISessionRecordStore.Ended)
            {
                if (live != null) sessions.Remove(id);
                throw SessionGone(id);
            }
            // Live and current (a store that lost the record, or has fewer turns, is written again after this turn).
            if (usable && stored <= live!.Records.Count) return (live, lease, null);
            if (stored < 0) throw SessionGone(id);
            behind = usable;
            var record = await records.GetAsync(id, ct).ConfigureAwait(false) ?? throw SessionGone(id);
            string why = live == null ? "not_live" : "stale";
            var entry = await RestoreAsync(id, record, clock, ct).ConfigureAwait(false);
            metrics.SessionsRestored.Add(1, new KeyValuePair<string, object?>("reason", why));
            CoreLog.SessionRestored(log, id, why, record.Turns.Count);
            return (entry, lease, why);
        }
        catch (SessionStoreUnavailableException e)
        {
            if (lease != null) await lease.DisposeAsync().ConfigureAwait(false);
            CoreLog.SessionStoreFailed(log, "continue", id, e.Message);
            if (usable && !behind) return (live!, null, null);
            throw RegionChatCoreException.StoreUnavailable($"session '{ClientText.Quote(id)}' is not held by this replica and the session " +
                "store cannot be reached; retry later");
        }
        catch
        {
            if (lease != null) await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Rebuilds a session from its record: its visual blocks made again (visual-token cache, else the image
    /// from the image stores encoded again), and a chat whose next turn replays the recorded positions first.</summary>
    async Task<ChatSessionEntry> RestoreAsync(string id, SessionRecord record, Clock clock, CancellationToken ct)
    {
        var model = Model(record.Model) ?? throw RegionChatCoreException.NotFound(
            $"session '{ClientText.Quote(id)}' belongs to model '{ClientText.Quote(record.Model)}', which is not served here");
        var blocks = new Dictionary<(string, string, int), EmbeddingBlock>();
        var visualRecords = new Dictionary<EmbeddingBlock, VisualRecord>(ReferenceEqualityComparer.Instance);
        var chatTurns = new List<ChatTurnRecord>();
        string? lastImage = null;
        foreach (var t in record.Turns)
        {
            var made = new EmbeddingBlock[t.Visuals.Count];
            for (int i = 0; i < made.Length; i++)
            {
                var v = t.Visuals[i];
                if (!blocks.TryGetValue((v.ImageId, v.RegionKey, v.Budget), out var block))
                {
                    if (!await EnsureImageAsync(v.ImageId, ct).ConfigureAwait(false))
                        throw RegionChatCoreException.NotFound($"session '{ClientText.Quote(id)}' cannot be restored: its image '{v.ImageId}' " +
                                                                "is no longer stored; start a new session");
                    var source = RegionSource.FromStored(v.Region, v.RegionKey, options);
                    block = (await VisualTokensAsync(model, v.ImageId, new TurnImage(null, source), v.Budget, clock, ct).ConfigureAwait(false)).Block;
                    if (block.Count != v.Rows)
                        throw RegionChatCoreException.NotFound($"session '{ClientText.Quote(id)}' cannot be restored: a visual block has " +
                                                                $"{block.Count} rows, not the {v.Rows} recorded (the model changed); start a new session");
                    blocks[(v.ImageId, v.RegionKey, v.Budget)] = block;
                }
                made[i] = block;
                visualRecords[block] = v;
                lastImage = v.ImageId;
            }
            var messages = t.Messages.Select(m => m.User ? ChatMessage.User(m.Text, m.Visual >= 0 ? made[m.Visual] : null)
                : ChatMessage.Assistant(m.Text)).ToArray();
            var prompt = t.Prompt.Select(p => p.Tokens != null ? PromptSegment.Tokens(p.Tokens) : PromptSegment.Embeddings(made[p.Visual])).ToArray();
            chatTurns.Add(new ChatTurnRecord(t.FromStart, messages, prompt, t.Output, t.Answer, t.RawAnswer));
        }
        var chat = ChatSession.Restore(model.Llm, model.Template, record.SystemPrompt, chatTurns);
        chat.ReplayWhenEvicted = true;
        var entry = sessions.Adopt(id, model, chat);
        entry.Records.AddRange(record.Turns);
        foreach (var (block, v) in visualRecords) entry.Visuals[block] = v;
        foreach (var t in record.Turns)
            foreach (var v in t.Visuals) entry.SharedImages.Add(v.ImageId);
        entry.StoredTurns = record.Turns.Count;
        entry.LastImageId = lastImage;
        return entry;
    }

    /// <summary>Whether the image is in this replica's image store, fetching it from the shared one when not.</summary>
    async Task<bool> EnsureImageAsync(string imageId, CancellationToken ct)
    {
        if (images.TryGet(imageId, out _)) return true;
        // A store that cannot be reached now is UNAVAILABLE (retried): only an image it does not hold is gone.
        byte[]? bytes;
        try { bytes = await records.GetImageAsync(imageId, ct).ConfigureAwait(false); }
        catch (SessionStoreUnavailableException e)
        {
            CoreLog.SessionStoreFailed(log, "image", imageId, e.Message);
            throw RegionChatCoreException.StoreUnavailable($"image '{imageId}' is in the shared image store, which cannot be reached; retry later");
        }
        if (bytes == null || ImageStore.IdOf(bytes) != imageId) return false;
        try { await images.PutAsync(bytes, ct).ConfigureAwait(false); }
        catch (InvalidImageException) { return false; }
        return true;
    }

    /// <summary>Whether a session with this id is live here or recorded in the session store (a client-chosen id must
    /// name neither); a store that cannot be reached counts as not.</summary>
    async Task<bool> SessionExistsAsync(string id, CancellationToken ct)
    {
        if (sessions.Get(id) != null) return true;
        try { return await records.TurnCountAsync(id, ct).ConfigureAwait(false) >= 0; }
        catch (SessionStoreUnavailableException e)
        {
            CoreLog.SessionStoreFailed(log, "new session id", id, e.Message);
            return false;
        }
    }

    static RegionChatCoreException Busy(string id) =>
        new(RegionChatErrorKind.SessionBusy, $"session '{ClientText.Quote(id)}' is answering another turn; wait for it to finish");

    async IAsyncEnumerable<TurnEvent> RunOnSessionAsync(TurnRequest turn, RegionChatModel model, ChatSessionEntry? session,
        string? restoredWhy, SamplingParams sampling, Clock clock, Stopwatch arrived, [EnumeratorCancellation] CancellationToken ct)
    {
        var f = turn.Fields;
        if (turn.VisualTokenBudget is { } asked && VisualTokenSelection.Check(asked, model.IncludesCls) is { } badBudget)
            throw RegionChatCoreException.InvalidArgument(f.VisualTokenBudget, $"{badBudget} for model '{model.Id}'");
        int budget = VisualTokenSelection.Effective(turn.VisualTokenBudget ?? model.VisualTokenBudget, model.VisualTokenCount);
        // Bounded before any image is decoded or encoded: images whose visual tokens alone outgrow a session.
        int images = turn.Messages.Count(m => m.Image != null);
        long visualPositions = (long)images * (budget > 0 ? budget : model.VisualTokenCount);
        int sequenceLimit = model.Llm.Facts.SequenceLimit;
        if (images > 1 && visualPositions > sequenceLimit)
            throw RegionChatCoreException.InvalidArgument(f.Text, $"the turn's {images} images take {visualPositions:N0} positions of visual " +
                $"tokens, more than the {sequenceLimit:N0} a session of model '{model.Id}' may hold");
        // Images and regions → visual tokens.
        var visuals = new EmbeddingBlock?[turn.Messages.Count];
        var newVisuals = new Dictionary<EmbeddingBlock, VisualRecord?>(ReferenceEqualityComparer.Instance);
        string? imageId = null;
        int imageCount = 0, hits = 0;
        for (int i = 0; i < turn.Messages.Count; i++)
        {
            var image = turn.Messages[i].Image;
            if (image == null) continue;
            Image<Rgb24>? fresh = null;
            if (image.Input != null) (imageId, fresh) = await ResolveImageAsync(image.Input, image, clock, ct).ConfigureAwait(false);
            else
            {
                imageId = imageId ?? session?.LastImageId ?? throw RegionChatCoreException.InvalidArgument(image.RegionField,
                    "a region needs an image: send one in this turn or an earlier turn of the session");
                if (!await EnsureImageAsync(imageId, ct).ConfigureAwait(false))
                    throw RegionChatCoreException.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
            }
            var (block, hit) = await VisualTokensAsync(model, imageId, image, budget, clock, ct, fresh).ConfigureAwait(false);
            visuals[i] = block;
            newVisuals[block] = image.Region.StoredForm is { } form
                ? new VisualRecord(imageId, image.Region.CacheKey, form, block.Count, budget) : null;
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
        // A request that keeps no session is one-shot: it never evicts a conversation to run (LlmSession.OneShot).
        session ??= sessions.Create(model, turn.SystemPrompt.Length > 0 ? turn.SystemPrompt : null, turn.NewSessionId.Length > 0 ? turn.NewSessionId : null,
                oneShot: !turn.KeepSession || turn.LikelyOneShot)
            ?? throw SessionTaken(turn.NewSessionId);
        session.Chat.ReplayWhenEvicted = true;
        bool recorded = turn.KeepSession || !ownSession;
        if (Interlocked.Exchange(ref session.Busy, 1) == 1) throw Busy(session.Id);
        bool announced = false;
        try
        {
            session.Touch();
            if (imageId != null) session.LastImageId = imageId;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Token);
            bool started = false, first = true;
            for (int attempt = 0; ; attempt++)
            {
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
                bool evicted = false;
                await using var streamScope = stream.ConfigureAwait(false);
                while (true)
                {
                    GenerationEvent ev;
                    try
                    {
                        if (!await stream.MoveNextAsync().ConfigureAwait(false)) break;
                        ev = stream.Current;
                    }
                    // Evicted between the state check and the submission: the next attempt replays it.
                    catch (SequenceEvictedException) when (!started && attempt == 0)
                    {
                        evicted = true;
                        break;
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
                            int restoredTokens = session.Chat.ReplayedPositions;
                            bool restored = restoredWhy != null || restoredTokens > 0;
                            if (restored && restoredWhy == null) metrics.SessionsRestored.Add(1, new KeyValuePair<string, object?>("reason", "evicted"));
                            if (restoredTokens > 0) metrics.RestoredTokens.Add(restoredTokens);
                            yield return new TurnStarted(session.Id, model.Id, a.PromptTokens, a.CachedTokens, visualTokens, turn.RequestId,
                                restored, restoredTokens);
                            break;
                        case TextPiece t:
                            if (first)
                            {
                                first = false;
                                clock.TimeToFirstTokenMs = arrived.Elapsed.TotalMilliseconds;
                                metrics.TimeToFirstToken.Record(clock.TimeToFirstTokenMs);
                            }
                            yield return new TurnText(t.Text) { Logprobs = t.Logprobs.Select(TokenLogprob.From).ToArray() };
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
                            // The turn is in the record store before the caller hears it finished, so its next turn
                            // may go to any replica.
                            if (reason != TurnFinishReason.Cancelled && recorded) await SaveAsync(session, newVisuals, ct).ConfigureAwait(false);
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
                if (!evicted) break;
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

    /// <summary>Writes the turn just recorded by the chat to the session record store (with any new image to the shared
    /// image store). A store that cannot be reached costs the record, not the turn: it is written whole next time.</summary>
    async Task SaveAsync(ChatSessionEntry session, Dictionary<EmbeddingBlock, VisualRecord?> newVisuals, CancellationToken ct)
    {
        var chatTurns = session.Chat.Turns;
        if (chatTurns.Count != session.Records.Count + 1 || !session.Recordable) return;
        var t = chatTurns[^1];
        var visuals = new List<VisualRecord>();
        int VisualIndex(EmbeddingBlock block)
        {
            var v = session.Visuals.TryGetValue(block, out var known) ? known : newVisuals.GetValueOrDefault(block);
            if (v == null)
            {
                session.Recordable = false;
                return -1;
            }
            session.Visuals[block] = v;
            int i = visuals.IndexOf(v);
            if (i < 0) { visuals.Add(v); i = visuals.Count - 1; }
            return i;
        }
        var messages = t.Messages.Select(m => new MessageRecord(m.Role == ChatRole.User, m.Text, m.Image is { } b ? VisualIndex(b) : -1)).ToArray();
        var prompt = t.Prompt.Select(p => p switch
        {
            TokenSegment tokens => new PromptItemRecord(tokens.Ids.ToArray()),
            EmbeddingSegment e => new PromptItemRecord(null, VisualIndex(e.Block)),
            _ => throw new InvalidOperationException("a recorded prompt holds only token ids and embedding blocks"),
        }).ToArray();
        if (!session.Recordable) return;
        session.Records.Add(new TurnRecord
        {
            FromStart = t.FromStart, Messages = messages, Visuals = visuals, Prompt = prompt, Output = t.Output.ToArray(),
            Answer = t.Answer, RawAnswer = t.RawAnswer,
        });
        try
        {
            // Ended on another replica while this turn ran (the record stays ended, and so does the session here), or
            // extended there while this copy could not write (theirs stays; the next turn here restores it).
            if (!await WriteRecordAsync(session, ct).ConfigureAwait(false)) sessions.Remove(session.Id);
        }
        catch (SessionStoreUnavailableException e)
        {
            CoreLog.SessionStoreFailed(log, "save", session.Id, e.Message);
            session.Unwritten = true;
        }
    }

    /// <summary>Writes the session's turns the store lacks (all of them when it lost some), with any image not yet shared
    /// (the shared ones renewed); false, writing nothing, when the session was ended meanwhile or another writer went on
    /// past what this copy knew.</summary>
    async Task<bool> WriteRecordAsync(ChatSessionEntry session, CancellationToken ct)
    {
        // The images the session already shared live on as long as it does; one the store dropped is shared again.
        var shared = session.Records.SelectMany(r => r.Visuals).Select(v => v.ImageId).Where(session.SharedImages.Contains).ToHashSet();
        foreach (string gone in await records.TouchImagesAsync(shared, ct).ConfigureAwait(false)) session.SharedImages.Remove(gone);
        foreach (var v in session.Records.SelectMany(r => r.Visuals))
            if (!session.SharedImages.Contains(v.ImageId) && images.TryGet(v.ImageId, out var stored))
            {
                await records.PutImageAsync(v.ImageId, stored.Bytes, ct).ConfigureAwait(false);
                session.SharedImages.Add(v.ImageId);
            }
        // A first write that may or may not have happened is not a new session's (which may take an ended one's id).
        int known = session.Unwritten && session.StoredTurns == 0 ? -1 : session.StoredTurns;
        if (!await records.SaveAsync(session.Id, session.Model.Id, session.Chat.SystemPrompt, session.Records, known, ct)
                .ConfigureAwait(false)) return false;
        session.StoredTurns = session.Records.Count;
        session.Unwritten = false;
        return true;
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
            case ObjectDisposedException when shutdown.IsStopping:
                return RegionChatCoreException.Unavailable("the server is shutting down");
            case ObjectDisposedException when !ct.IsCancellationRequested:
                // The session expired or was ended between lookup and generation.
                return SessionGone(session.Id);
            case ArgumentException { ParamName: nameof(SamplingParams.OutputFormat) } when !ct.IsCancellationRequested:
                return RegionChatCoreException.InvalidArgument(f.Format, $"{e.Message.Split(" (Parameter")[0]} (model " +
                                                               $"'{session.Model.Id}')", e);
            case ArgumentException { ParamName: nameof(SamplingParams.LogitBias) } when !ct.IsCancellationRequested:
                return RegionChatCoreException.InvalidArgument(f.LogitBias, $"{e.Message.Split(" (Parameter")[0]} (model '{session.Model.Id}')", e);
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
                    inner: e) { ContextOverflow = true };
            // A session being replayed (restored from its record, or after an eviction) holds nothing yet, but its
            // history is what fills it: the same state as above, not a bad text.
            case ContextOverflowKind.Prompt when session.Chat.Turns.Count > 0:
                return new RegionChatCoreException(RegionChatErrorKind.FailedPrecondition,
                    $"session '{session.Id}' is full for this turn: its history and the turn need {e.Needed} positions, but a " +
                    $"session may hold {limit}; end this session and start a new one", inner: e) { ContextOverflow = true };
            case ContextOverflowKind.Prompt:
                return RegionChatCoreException.InvalidArgument(f.Text,
                    $"{e.Message}: text, template and visual tokens together; a session may hold {limit}", e).AsContextOverflow();
            case ContextOverflowKind.MaxTokens:
                return RegionChatCoreException.InvalidArgument(f.MaxTokens,
                    $"{e.Message} (a session may hold {limit}); ask for fewer tokens" + (e.CachedTokens > 0 ? " or start a new session" : ""),
                    e).AsContextOverflow();
            default:
                return RegionChatCoreException.InvalidArgument(f.Text, e.Message, e);
        }
    }

    /// <summary>Stores inline bytes or looks up an id (here, else in the shared image store); returns the image id, and the
    /// pixels of an image new to the store (decoded to check it; the caller disposes them).</summary>
    async Task<(string Id, Image<Rgb24>? Fresh)> ResolveImageAsync(ImageInput input, TurnImage image, Clock clock, CancellationToken ct)
    {
        if (input.Bytes is { } bytes)
        {
            if (bytes.Length > options.MaxImageBytes)
                throw RegionChatCoreException.InvalidArgument(image.DataField, ImageSizeLimit.TooLarge(bytes.Length, options.MaxImageBytes));
            var sw = Stopwatch.StartNew();
            try
            {
                // Checked by a full decode when new. Those pixels serve this turn's encode; the store keeps only the bytes
                // (memory stays flat under many images). Later turns on a visual-cache miss take the tower's resized pixels
                // from the tower-pixel cache, or decode the bytes again.
                var (stored, fresh) = await images.PutKeepingPixelsAsync(bytes, ct).ConfigureAwait(false);
                if (fresh != null) clock.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
                return (stored.Id, fresh);
            }
            catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(image.DataField, e.Message, e); }
        }
        if (input.StoredId is { } given)
        {
            string? id = ImageStore.NormaliseId(given);
            if (id == null) throw RegionChatCoreException.InvalidArgument(image.ImageField + ".image_id", "must be \"sha256:\" followed by 64 hex digits");
            if (!await EnsureImageAsync(id, ct).ConfigureAwait(false))
                throw RegionChatCoreException.NotFound($"image '{id}' is not stored here (never uploaded, or dropped from the image store); upload it again");
            return (id, null);
        }
        throw RegionChatCoreException.InvalidArgument(image.ImageField, "needs data or image_id");
    }

    /// <summary>The visual tokens of (model, image, region, effective budget), from the cache or the vision batcher; true
    /// when cached. <paramref name="fresh"/> (the image's pixels, when the turn has just decoded them) is disposed here,
    /// before the encode waits in the vision queue.</summary>
    async Task<(EmbeddingBlock Block, bool Hit)> VisualTokensAsync(RegionChatModel model, string imageId, TurnImage image, int budget,
        Clock clock, CancellationToken ct, Image<Rgb24>? fresh = null)
    {
        var key = new VisualTokenCache.Key(model.Id, imageId, image.Region.CacheKey, budget);
        PreprocessedImage input;
        using (fresh)
        {
            if (visualCache.TryGet(key, out var cached))
            {
                metrics.VisualCacheHits.Add(1);
                return (cached.Block, true);
            }
            metrics.VisualCacheMisses.Add(1);
            if (!images.TryGet(imageId,
                out var stored)) throw RegionChatCoreException.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
            try
            {
                (input, double decodeMs) = await towerPixels.PrepareAsync(model, imageId, stored, image.Region, images.Limits, options.Regions, fresh, ct)
                    .ConfigureAwait(false);
                clock.ImageDecodeMs += decodeMs;
            }
            catch (InvalidRegionException e)
            {
                throw RegionChatCoreException.InvalidArgument(image.Region.ErrorField(image.RegionField, e), e.Description, e);
            }
            catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(image.ImageField, e.Message, e); }
        }
        var tokens = await vision.EncodeAsync(model, input, budget, ct).ConfigureAwait(false);
        clock.VisionEncodeMs += tokens.EncodeMs;
        visualCache.Set(key, tokens);
        return (tokens.Block, false);
    }
}
