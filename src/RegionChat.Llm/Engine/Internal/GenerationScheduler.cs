using System.Diagnostics;
using LLama.Native;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Owns the llama.cpp context (not thread-safe) on one background thread and serves every session through it.
/// Each loop step plans its positions (the next token of every decoding sequence, then prompt chunks), at most
/// BatchSize in all, and fills one token batch and one embedding batch (injected rows; with a token table, the step's
/// tokens too whenever it holds rows, so it is one decode call), decodes them and samples every sequence whose logits
/// came out. The KV cache is unified: all sequences share its cells, and an admitted request reserves
/// cells for its whole prompt and output so a decode never runs out of room. When cells or sequence ids are short,
/// idle sessions are evicted least recently used first; if that is not enough the request waits for running ones.
/// </summary>
internal sealed partial class GenerationScheduler : IDisposable
{
    readonly SafeLLamaContextHandle ctx;
    readonly SafeLlamaModelHandle model;
    readonly SafeLlamaModelHandle.Vocabulary vocab;
    readonly int cells, sequenceLimit, batchSize, maxSequences, oneShotShare;
    readonly Queue<SchedulerCommand> queue = new();
    readonly List<GenerationRequest> active = [];       // loop thread only
    readonly List<LlmSession> holding = [];             // sessions with a sequence id
    readonly Stack<int> freeSeqIds = new();
    readonly AutoResetEvent wake = new(false);
    readonly Thread thread;
    readonly LLamaBatch tokenBatch = new();
    readonly LLamaBatchEmbeddings embeddingBatch;
    readonly TokenEmbeddingRows? tokenRows;
    readonly float[] tokenRow;
    readonly List<StepPosition> plan = [];
    byte[] piece = new byte[64];
    int usedCells, reservedCells;
    long clock, steps, evictions;
    bool stopping;

    /// <param name="prefixSeq">A sequence id beyond <paramref name="maxSequences"/> for the shared prompt prefix, or -1.</param>
    public GenerationScheduler(SafeLLamaContextHandle ctx, int cells, int sequenceLimit, int batchSize, int maxSequences, int embeddingWidth,
        int oneShotShare, int prefixSeq = -1, TokenEmbeddingRows? tokenRows = null)
    {
        this.tokenRows = tokenRows;
        tokenRow = new float[embeddingWidth];
        this.prefixSeq = prefixSeq;
        this.maxSequences = maxSequences;
        this.oneShotShare = Math.Max(0, oneShotShare);
        this.ctx = ctx;
        model = ctx.ModelHandle;
        vocab = model.Vocab;
        this.cells = cells;
        this.sequenceLimit = Math.Min(cells, sequenceLimit);
        this.batchSize = batchSize;
        embeddingBatch = new LLamaBatchEmbeddings(embeddingWidth);
        for (int id = maxSequences - 1; id >= 0; id--) freeSeqIds.Push(id);
        thread = new Thread(Run) { IsBackground = true, Name = LlmEngine.ThreadName };
        thread.Start();
    }

    /// <summary>Guards the queue, the sessions' state and the cell accounting.</summary>
    public object Gate { get; } = new();

    /// <summary>Raised (on the thread pool) for each session evicted to make room.</summary>
    public event Action<LlmSession>? Evicted;

    /// <summary>Called on the loop thread after every step; tests use it to cancel at an exact step.</summary>
    internal Action<SchedulerStep>? StepObserver { get; set; }

    public EngineStatistics Statistics
    {
        get
        {
            lock (Gate)
                return new EngineStatistics(Interlocked.Read(ref steps), Interlocked.Read(ref evictions), queue.Count,
                    holding.Count, usedCells, reservedCells, cells, prefixCells, prefixHits);
        }
    }

    public void Submit(GenerationRequest request)
    {
        var core = request.Core;
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(stopping, typeof(LlmEngine));
            if (core.CloseRequested || core.State == LlmSessionState.Closed)
                throw new ObjectDisposedException(request.Session.ToString(), $"{request.Session} is closed");
            if (core.InFlight)
                throw new InvalidOperationException($"{request.Session} already has a generation in flight; wait for it to finish");
            if (core.State == LlmSessionState.Evicted && !request.ResetFirst) throw new SequenceEvictedException(request.Session.Id);
            if (request.Epoch >= 0 && request.Epoch != core.Epoch)
                throw new LlmEngineException($"{request.Session} was reset after its prompt was rendered; its history is gone");
            core.InFlight = true;
            // A session asked a second time is a conversation, however it began (an OpenAI call without a session id
            // starts one that may or may not go on).
            if (++core.Requests > 1 && request.Session.KeepHistory) request.Session.OneShot = false;
            queue.Enqueue(request);
        }
        request.WakeRegistration = request.Cancel.Register(static w => ((AutoResetEvent)w!).Set(), wake);
        wake.Set();
    }

    /// <summary>Queues a reset or close. The history version changes at once, so a prompt rendered against the old
    /// history is refused at submission; the KV cells are freed when the loop reaches the command.</summary>
    public void Enqueue(SessionCommand command)
    {
        var core = command.Session.Core;
        lock (Gate)
        {
            if (stopping) return;                  // the context and every sequence go away anyway
            core.Epoch++;
            if (command.Close) core.CloseRequested = true;
            else if (core.State == LlmSessionState.Evicted)
            {
                core.State = LlmSessionState.Fresh;  // an evicted session holds no cells: nothing left to free
                return;
            }
            queue.Enqueue(command);
        }
        wake.Set();
    }

    void Run()
    {
        while (true)
        {
            lock (Gate)
            {
                if (stopping) break;
                AdmitQueued();
            }
            foreach (var r in active.Where(r => r.Cancel.IsCancellationRequested).ToList()) Finish(r, FinishReason.Cancelled);
            if (active.Count == 0) { wake.WaitOne(); continue; }
            try { Step(); }
            catch (Exception e)
            {
                // A bug or a native failure must not kill the loop: fail what was running, keep serving the rest.
                foreach (var r in active.ToList()) Fail(r, e as LlmEngineException ?? new LlmEngineException($"engine step failed: {e.Message}", e));
            }
        }
        FailAllOnShutdown();
    }

    // ---- admission (under Gate) ----------------------------------------------------------------------------------

    void AdmitQueued()
    {
        while (queue.Count > 0)
        {
            var command = queue.Peek();
            if (command is SessionCommand sc) { queue.Dequeue(); Apply(sc); continue; }
            var request = (GenerationRequest)command;
            if (request.Cancel.IsCancellationRequested) { queue.Dequeue(); Finish(request, FinishReason.Cancelled); continue; }
            bool decided;
            try { decided = TryAdmit(request); }
            catch (Exception e)
            {
                // Never let the loop thread die (that would take the process down): fail this request only.
                decided = true;
                Fail(request, e as LlmEngineException ?? new LlmEngineException($"admission failed: {e.Message}", e));
            }
            if (!decided)                           // waits for running requests to free cells or sequence ids
            {
                AdmitHoldersBehind(request);
                break;
            }
            queue.Dequeue();
        }
    }

    /// <summary>
    /// While the head of the queue waits for a sequence id, a request behind it whose session already holds one and
    /// whose cells are free goes ahead (no eviction), so a chat turn does not wait behind one-shot captions waiting for
    /// their share. Only requests of other sessions, with no reset or close of their session queued before them, move.
    /// </summary>
    void AdmitHoldersBehind(GenerationRequest waiting)
    {
        // The head waits for cells, nothing would free any, or nobody is behind it (this runs every loop step meanwhile).
        if (waiting.Core.SeqId >= 0 || active.Count == 0 || queue.Count < 2) return;
        var rest = queue.ToArray();
        queue.Clear();
        var commanded = new HashSet<LlmSession>();
        foreach (var command in rest)
        {
            if (command is GenerationRequest r && r != waiting && r.Core.SeqId >= 0 && !r.ResetFirst && !commanded.Contains(r.Session)
                && !r.Cancel.IsCancellationRequested && TryAdmitAhead(r)) continue;
            if (command is SessionCommand sc) commanded.Add(sc.Session);
            queue.Enqueue(command);
        }
    }

    bool TryAdmitAhead(GenerationRequest request)
    {
        try { return TryAdmit(request, mayEvict: false); }
        catch (Exception e)
        {
            Fail(request, e as LlmEngineException ?? new LlmEngineException($"admission failed: {e.Message}", e));
            return true;
        }
    }

    /// <summary>Admits the request, fails it, or returns false when it must wait.</summary>
    bool TryAdmit(GenerationRequest request, bool mayEvict = true)
    {
        var session = request.Session;
        var core = request.Core;
        // Nothing but this request can change its session's history meanwhile: the session is in flight (never
        // evicted) and later resets queue behind it.
        if (request.ResetFirst) DropHistory(session);

        int pending = core.PendingToken.HasValue ? 1 : 0;
        int fresh = pending + request.Items.Sum(i => i.Count);
        int cached = core.KvLength;
        if (cached + fresh > sequenceLimit)
        {
            Fail(request, new ContextOverflowException(cached + fresh, sequenceLimit,
                $"the prompt needs {cached + fresh} positions ({cached} cached + {fresh} new) but the context holds {sequenceLimit}",
                ContextOverflowKind.Prompt, cached + pending));
            return true;
        }
        int room = sequenceLimit - cached - fresh;
        // The first token is sampled from the prompt's last logits and takes no position until the next decode.
        if (!request.LogitsOnly && request.Sampling.MaxTokensRequested && request.Sampling.MaxTokens > room + 1)
        {
            Fail(request, new ContextOverflowException(cached + fresh + request.Sampling.MaxTokens - 1, sequenceLimit,
                $"max_tokens {request.Sampling.MaxTokens} does not fit: the prompt takes {cached + fresh} of the {sequenceLimit} " +
                $"positions ({cached} cached + {fresh} new), which leaves room for {room + 1} tokens",
                ContextOverflowKind.MaxTokens, cached + pending));
            return true;
        }
        int output = request.LogitsOnly ? 0 : Math.Min(request.Sampling.MaxTokens, room);
        bool needsSeq = core.SeqId < 0;
        bool freshSequence = needsSeq && cached == 0 && pending == 0;
        int shared = freshSequence ? SharablePrefix(request) : 0;
        int need = fresh - shared + output;

        // A one-shot request evicts no conversation while anything runs (that will free room soon); a conversation
        // beyond its share of the sequences must evict one of its kind, so the one-shot share stays free for them.
        var evictable = holding.Where(s => mayEvict && s != session && !s.Core.InFlight && (!session.OneShot || s.OneShot || active.Count == 0))
            .OrderBy(s => s.Core.LastUsed).ToList();
        // The conversation to evict first because conversations hold their whole share: the least recently used idle one.
        LlmSession? overShare = null;
        if (!session.OneShot && needsSeq && holding.Count(s => !s.OneShot) >= maxSequences - oneShotShare)
        {
            overShare = evictable.FirstOrDefault(s => !s.OneShot);
            // Every conversation holding one is running: wait for one to end. (With nothing running, they wait behind
            // this request, so it takes a free sequence after all.)
            if (overShare == null && active.Count > 0) return false;
        }
        int free = FreeCells;
        bool seqPossible = !needsSeq || freeSeqIds.Count > 0 || evictable.Count > 0;
        // The holder's cells are the last to go: only when nobody shares them and nothing else makes room.
        if (shared == 0 && prefixCells > 0 && prefixUsers == 0 && prefixWriter == null && free + Freed(evictable) < need)
        {
            DropSharedPrefix();
            free = FreeCells;
        }
        if (free + Freed(evictable) < need || !seqPossible)
        {
            if (active.Count > 0) return false;
            Fail(request, new ContextOverflowException(need, free, $"the request needs {need} KV cells but only {free} are free",
                ContextOverflowKind.FreeCells, cached + pending));
            return true;
        }
        if (overShare != null) Evict(overShare);
        foreach (var victim in evictable.Where(s => s != overShare))
        {
            if (FreeCells >= need && (!needsSeq || freeSeqIds.Count > 0)) break;
            Evict(victim);
        }

        if (needsSeq)
        {
            core.SeqId = freeSeqIds.Pop();
            holding.Add(session);
            core.State = LlmSessionState.Holding;
        }
        if (shared > 0) TakeSharedPrefix(request, shared);
        else if (freshSequence) MaybeWritePrefix(request);
        if (core.PendingToken is int token) request.Items.Insert(0, new TokenRun([token]));
        core.PendingToken = null;
        reservedCells += need;
        request.Reservation = need;
        request.CachedTokens = cached;
        request.NewPromptTokens = fresh;
        request.Phase = RequestPhase.Prefilling;
        request.MarkAdmitted();
        active.Add(request);
        return true;
    }

    /// <summary>Cells neither used (by sessions or the shared prefix) nor promised to running requests.</summary>
    int FreeCells => cells - usedCells - reservedCells - prefixCells;

    /// <summary>Cells that evicting these sessions would free (not the shared prefix's).</summary>
    static int Freed(List<LlmSession> sessions) => sessions.Sum(s => s.Core.KvLength - s.Core.SharedPositions);

    void Apply(SessionCommand command)
    {
        var running = active.FirstOrDefault(r => r.Session == command.Session);
        if (running != null) Finish(running, FinishReason.Cancelled);
        FreeSequence(command.Session, command.Close ? LlmSessionState.Closed : LlmSessionState.Fresh);
    }

    void Evict(LlmSession session)
    {
        FreeSequence(session, LlmSessionState.Evicted);
        session.Core.Epoch++;
        Interlocked.Increment(ref evictions);
        var handler = Evicted;
        if (handler != null) ThreadPool.QueueUserWorkItem(_ => handler(session));
    }

    /// <summary>Frees the session's cells as a new version of its history (an empty one).</summary>
    void DropHistory(LlmSession session)
    {
        bool had = session.Core.SeqId >= 0 || session.Core.PendingToken.HasValue;
        FreeSequence(session, LlmSessionState.Fresh);
        if (had) session.Core.Epoch++;
    }

    /// <summary>Drops the session's KV cells and sequence id (under Gate).</summary>
    void FreeSequence(LlmSession session, LlmSessionState state)
    {
        var core = session.Core;
        if (core.SeqId >= 0)
        {
            ctx.MemorySequenceRemove((LLamaSeqId)core.SeqId, -1, -1);
            usedCells -= core.KvLength - core.SharedPositions;
            if (core.SharedPositions > 0) prefixUsers--;
            freeSeqIds.Push(core.SeqId);
            holding.Remove(session);
        }
        core.SeqId = -1;
        core.KvLength = 0;
        core.SharedPositions = 0;
        core.PendingToken = null;
        if (core.State != LlmSessionState.Closed) core.State = state;
    }

    // ---- one step (loop thread) ----------------------------------------------------------------------------------

    /// <summary>Stopwatch ticks spent in loop steps, and of those inside llama_decode: their ratio is the engine's own
    /// overhead, free of machine noise (the benchmark reports it).</summary>
    internal (long StepTicks, long LlamaTicks) BusyTicks => (Interlocked.Read(ref stepTicks), Interlocked.Read(ref llamaTicks));
    long stepTicks, llamaTicks;

    void Step()
    {
        long start = Stopwatch.GetTimestamp();
        try { StepCore(); }
        finally { Interlocked.Add(ref stepTicks, Stopwatch.GetTimestamp() - start); }
    }

    void StepCore()
    {
        tokenBatch.Clear();
        embeddingBatch.Clear();
        plan.Clear();
        int budget = batchSize;
        var overflowed = new List<GenerationRequest>();

        foreach (var r in active)
        {
            r.ResetStep();
            if (r.Phase != RequestPhase.Decoding) continue;
            if (r.Core.KvLength >= cells) { overflowed.Add(r); continue; }
            plan.Add(new StepPosition(r, r.NextToken, null, 0, r.Core.KvLength, Logits: true));
            r.StepDecodes = true;
            budget--;
        }
        foreach (var r in overflowed)
            Fail(r, new ContextOverflowException(cells + 1, cells,
                $"the generation reached the end of the context ({cells} positions) after {r.CompletionTokens} tokens",
                ContextOverflowKind.Generation, r.Core.KvLength));

        bool rows = false;
        foreach (var r in active)
        {
            if (budget == 0) break;
            if (r.Phase == RequestPhase.Prefilling) budget -= AddPromptChunk(r, budget, ref rows);
        }
        FillBatches(tokensAsRows: rows && tokenRows != null);

        var clock = Stopwatch.StartNew();
        var finished = new List<(GenerationRequest, FinishReason)>();
        var participants = active.Where(r => r.InStep).ToList();
        _ = DecodeAndSample(tokenBatch.TokenCount, () => ctx.Decode(tokenBatch), participants, embeddings: false, finished)
               && DecodeAndSample(embeddingBatch.EmbeddingsCount, () => ctx.Decode(embeddingBatch), participants, embeddings: true, finished);
        double ms = clock.Elapsed.TotalMilliseconds;
        foreach (var r in participants) r.AddStepTime(ms);
        foreach (var (r, reason) in finished)                     // no-op for requests a failed decode already ended
            if (r.Failure != null) Fail(r, r.Failure);
            else Finish(r, reason);

        long index = Interlocked.Increment(ref steps);
        StepObserver?.Invoke(new SchedulerStep(index, tokenBatch.TokenCount, embeddingBatch.EmbeddingsCount,
            participants.Count(r => r.StepDecodes)));
    }

    /// <summary>Plans the next prompt positions of a prefilling request; returns how many. Sets
    /// <paramref name="rows"/> when any are embedding rows.</summary>
    int AddPromptChunk(GenerationRequest r, int budget, ref bool rows)
    {
        int pos = r.Core.KvLength;
        int added = 0;
        while (added < budget && r.ItemIndex < r.Items.Count)
        {
            var item = r.Items[r.ItemIndex];
            // Token positions are decoded before embedding positions, so without a token table text may not follow
            // embeddings in one step (with one, the step's tokens go in as rows).
            if (item is TokenRun && r.StepPlannedRows > 0 && tokenRows == null) break;
            int n = Math.Min(item.Count - r.ItemOffset, budget - added);
            bool endsPrompt = r.ItemIndex == r.Items.Count - 1 && r.ItemOffset + n == item.Count;
            for (int i = 0; i < n; i++)
            {
                bool logits = endsPrompt && i == n - 1;
                plan.Add(item switch
                {
                    TokenRun t => new StepPosition(r, t.Tokens[r.ItemOffset + i], null, 0, pos++, logits),
                    EmbeddingRun e => new StepPosition(r, -1, e.Block, r.ItemOffset + i, pos++, logits),
                    _ => throw new InvalidOperationException("unknown prompt item"),
                });
            }
            if (item is EmbeddingRun) { r.StepPlannedRows += n; rows = true; }
            r.StepPromptPositions += n;
            added += n;
            r.ItemOffset += n;
            if (r.ItemOffset == item.Count) { r.ItemIndex++; r.ItemOffset = 0; }
        }
        return added;
    }

    /// <summary>Puts the planned positions into the two batches: rows into the embedding batch, tokens into the token
    /// batch, or as their token_embd rows into the embedding batch when <paramref name="tokensAsRows"/> (one
    /// llama_decode for the whole step). Counts each request's positions per batch and notes where its logits land.</summary>
    void FillBatches(bool tokensAsRows)
    {
        foreach (var p in plan)
        {
            var r = p.Request;
            var seq = (LLamaSeqId)r.Core.SeqId;
            bool asRow = p.Block != null || tokensAsRows;
            int at;
            if (p.Block != null) at = embeddingBatch.Add(p.Block.Row(p.Row), p.Position, seq, p.Logits);
            else if (tokensAsRows)
            {
                tokenRows!.Read(p.Token, tokenRow);
                at = embeddingBatch.Add(tokenRow, p.Position, seq, p.Logits);
            }
            else at = tokenBatch.Add(p.Token, p.Position, seq, p.Logits);
            if (asRow) r.StepRowPositions++; else r.StepTokenPositions++;
            if (p.Logits) { r.LogitIndex = at; r.LogitInEmbeddings = asRow; }
        }
    }

    bool DecodeAndSample(int count, Func<DecodeResult> decode, List<GenerationRequest> participants, bool embeddings,
        List<(GenerationRequest, FinishReason)> finished)
    {
        if (count == 0) return true;
        // llama.cpp aborts the process on an oversized batch; the budget rules this out, but never risk it.
        if (count > batchSize) throw new InvalidOperationException($"internal error: a batch of {count} exceeds n_batch {batchSize}");
        long start = Stopwatch.GetTimestamp();
        var result = decode();
        Interlocked.Add(ref llamaTicks, Stopwatch.GetTimestamp() - start);
        if (result != DecodeResult.Ok)
        {
            var error = new LlmDecodeException($"llama_decode failed with {result} on a batch of {count} " +
                                               (embeddings ? "embedding rows" : "tokens"));
            foreach (var r in participants) if (r.Phase != RequestPhase.Done) Fail(r, error);
            return false;
        }
        foreach (var r in participants)
        {
            int positions = r.Positions(embeddings);
            if (positions == 0) continue;
            lock (Gate)
            {
                r.Core.KvLength += positions;
                usedCells += positions;
                int released = Math.Min(positions, r.Reservation);
                r.Reservation -= released;
                reservedCells -= released;
                if (r == prefixWriter && r.Core.KvLength >= r.PrefixToWrite!.Length) CompletePrefixWrite(r);
            }
            if (!r.StepDecodes) r.PrefilledTokens += positions;
            if (r.LogitIndex >= 0 && r.LogitInEmbeddings == embeddings)
            {
                var reason = OnLogits(r, ctx.GetLogitsIth(r.LogitIndex));
                if (reason is FinishReason f) finished.Add((r, f));
            }
        }
        return true;
    }

    /// <summary>Samples the next token of a request (or keeps the logits); returns a finish reason when it is done.</summary>
    FinishReason? OnLogits(GenerationRequest r, Span<float> logits)
    {
        if (r.LogitsOnly) { r.Logits = logits.ToArray(); return FinishReason.Stop; }

        int token = r.Sampler.Sample(logits);
        if (token < 0)
        {
            r.Failure = new LlmDecodeException($"no token of the model's vocabulary continues the output format ({r.Sampling.OutputFormat}) " +
                                               $"after {r.CompletionTokens} tokens");
            return FinishReason.Stop;
        }
        if (!r.Sampling.IgnoreEos && ((LLamaToken)token).IsEndOfGeneration(vocab)) { r.NextToken = -1; return FinishReason.Stop; }
        r.Sampler.Accept(token);
        r.OutputTokens.Add(token);
        r.CompletionTokens++;
        r.NextToken = token;
        r.Phase = RequestPhase.Decoding;
        int start = r.RawText.Length;
        string text = r.AddRaw(r.Text.Push(PieceBytes(token)));
        if (r.Sampling.Logprobs is int top) r.HoldLogprob(Logprob(logits, token, top), start, r.RawText.Length);
        r.Emit(r.Stops.Push(text), last: r.Stops.Matched != null);
        if (r.Stops.Matched != null) return FinishReason.Stop;
        if (r.CompletionTokens >= r.Sampling.MaxTokens) return FinishReason.Length;
        // The sequence is full: this token could not be decoded, so the answer ends here (as a default max_tokens would).
        if (r.Core.KvLength >= sequenceLimit) return FinishReason.Length;
        return null;
    }

    TokenLogprob Logprob(ReadOnlySpan<float> logits, int token, int top)
    {
        float logZ = LogprobMath.LogSumExp(logits);
        int[] best = LogprobMath.Best(logits, top);
        var alternatives = new TokenLogprob[best.Length];
        for (int i = 0; i < best.Length; i++) alternatives[i] = new TokenLogprob(best[i], PieceBytes(best[i]).ToArray(), logits[best[i]] - logZ);
        return new TokenLogprob(token, PieceBytes(token).ToArray(), logits[token] - logZ) { Top = alternatives };
    }

    ReadOnlySpan<byte> PieceBytes(int token)
    {
        int n = (int)model.TokenToSpan(token, piece, 0, false);
        if (n > piece.Length)
        {
            piece = new byte[n];
            n = (int)model.TokenToSpan(token, piece, 0, false);
        }
        return piece.AsSpan(0, n);
    }

    // ---- endings -------------------------------------------------------------------------------------------------

    /// <summary>Ends a request normally (Stop, Length) or by cancellation, with its final event.</summary>
    void Finish(GenerationRequest r, FinishReason reason)
    {
        if (r.Phase == RequestPhase.Done) return;
        if (reason != FinishReason.Cancelled && r.Stops.Matched == null)
            r.Emit(r.Stops.Push(r.AddRaw(r.Text.Flush())) + r.Stops.Flush(), last: true);
        bool keep = reason != FinishReason.Cancelled && r.Session.KeepHistory && !r.LogitsOnly;
        lock (Gate)
        {
            Release(r);
            if (r.Phase != RequestPhase.Queued)
            {
                if (keep)
                {
                    // An end-of-generation token was not decoded and is not kept: the template closes the turn itself.
                    r.Core.PendingToken = r.NextToken >= 0 && r.CompletionTokens > 0 ? r.NextToken : null;
                    r.Core.LastUsed = ++clock;
                }
                else DropHistory(r.Session);
            }
        }
        r.Phase = RequestPhase.Done;
        r.Events.Writer.TryWrite(r.Final(reason));
        r.Events.Writer.TryComplete();
        r.WakeRegistration.Dispose();
    }

    /// <summary>Ends a request with an exception. Its KV history is dropped unless the failure came before admission.</summary>
    void Fail(GenerationRequest r, Exception error)
    {
        if (r.Phase == RequestPhase.Done) return;
        lock (Gate)
        {
            Release(r);
            if (r.Phase != RequestPhase.Queued) DropHistory(r.Session);
        }
        r.Phase = RequestPhase.Done;
        r.Events.Writer.TryComplete(error);
        r.WakeRegistration.Dispose();
    }

    void Release(GenerationRequest r)
    {
        reservedCells -= r.Reservation;
        r.Reservation = 0;
        r.Core.InFlight = false;
        if (prefixWriter == r) prefixWriter = null;
        active.Remove(r);
    }

    void FailAllOnShutdown()
    {
        var error = new ObjectDisposedException(nameof(LlmEngine), "the engine was shut down during this generation");
        foreach (var r in active.ToList()) Fail(r, error);
        lock (Gate)
            while (queue.Count > 0)
                if (queue.Dequeue() is GenerationRequest r) Fail(r, error);
    }

    public void Dispose()
    {
        lock (Gate) stopping = true;
        wake.Set();
        if (Thread.CurrentThread != thread) thread.Join();
        wake.Dispose();
    }
}
