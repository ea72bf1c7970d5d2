using System.Runtime.CompilerServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;
using Microsoft.Extensions.Logging;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Engine;

/// <summary>
/// A llama GGUF model loaded with LLamaSharp and one llama.cpp context that serves many sessions at once: generations
/// from any thread are queued to a single background loop that batches the decode steps of all running sequences.
/// Prompts may inject raw embedding rows (visual tokens) between text pieces.
/// </summary>
public sealed class LlmEngine : IDisposable
{
    /// <summary>The name of the thread that runs every decode step.</summary>
    public const string ThreadName = "llm-engine";

    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly GenerationScheduler scheduler;
    readonly TokenEmbeddingRows? tokenRows;
    readonly Lazy<OutputVocabulary> outputVocabulary;
    long nextSessionId;
    bool disposed;

    LlmEngine(LLamaWeights weights, LLamaContext context, LlmModelFacts facts, int oneShotSequences, TokenEmbeddingRows? tokenRows,
        string? tokenRowsRefusal)
    {
        this.weights = weights;
        this.context = context;
        this.tokenRows = tokenRows;
        TokenRowsRefusal = tokenRowsRefusal;
        Facts = facts;
        scheduler = new GenerationScheduler(context.NativeHandle, facts.ContextSize, facts.SequenceLimit, facts.BatchSize, facts.MaxSequences,
            facts.EmbeddingWidth, Math.Min(oneShotSequences, facts.MaxSequences - 1),
            prefixSeq: (int)context.NativeHandle.MaxSeq > facts.MaxSequences ? facts.MaxSequences : -1, tokenRows);
        scheduler.Evicted += s => SessionEvicted?.Invoke(this, s);
        outputVocabulary = new(() => new OutputVocabulary(facts.VocabSize, TokenBytes,
            t => ((LLamaToken)t).IsEndOfGeneration(weights.NativeHandle.Vocab)));
    }

    public LlmModelFacts Facts { get; }

    /// <summary>Whether a step that injects embedding rows takes its tokens as token_embd rows in the same decode call
    /// (<see cref="LlmEngineOptions.TokensAsRows"/>); false when off or when the model cannot (<see cref="TokenRowsRefusal"/>).</summary>
    public bool TokensAsRows => tokenRows != null;

    /// <summary>Why tokens stay in their own decode call although <see cref="LlmEngineOptions.TokensAsRows"/> asked
    /// otherwise (say, a quantised token table), or null.</summary>
    public string? TokenRowsRefusal { get; }

    /// <summary>Raised (on the thread pool) when a session's history is evicted to make room in a full KV cache.</summary>
    public event EventHandler<LlmSession>? SessionEvicted;

    public EngineStatistics Statistics => scheduler.Statistics;

    /// <summary>Every token's output bytes, read on first use (constrained answers).</summary>
    internal OutputVocabulary OutputTokens => outputVocabulary.Value;

    /// <summary>Whether the loaded llama.cpp backend can offload layers to a GPU (false with the CPU backend).</summary>
    public static bool SupportsGpuOffload => NativeBackend.SupportsGpuOffload();

    // llama.cpp's LLAMA_MAX_SEQ, which LlmEngineOptions.MaxSequences may reach.
    const int MaxSeqIds = 256;

    /// <summary>Loads the model and creates the context. Throws InvalidDataException when llama.cpp refuses the file.
    /// llama.cpp's own log goes to <paramref name="nativeLog"/> (process-wide: the last logger given wins).</summary>
    public static LlmEngine Load(LlmEngineOptions options, ILogger? nativeLog = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NativeLog.Install(nativeLog);
        var parameters = new ModelParams(options.ModelPath)
        {
            ContextSize = (uint)options.ContextSize,
            BatchSize = (uint)options.BatchSize,
            UBatchSize = (uint)options.BatchSize,
            // One sequence id more holds the shared prompt prefix (GenerationScheduler.SharedPrefix), within llama.cpp's
            // limits: 256 ids, and no more sequences than a batch has rows (else llama_decode asserts on its outputs).
            SeqMax = (uint)(options.MaxSequences + (options.MaxSequences < Math.Min(MaxSeqIds, Math.Min(options.BatchSize, options.ContextSize)) ? 1 : 0)),
            Threads = options.Threads,
            BatchThreads = options.BatchThreads,
            GpuLayerCount = options.GpuLayers,
            KVUnified = true,        // one pool of cells for all sequences, so idle histories can be evicted for any newcomer
        };
        LLamaWeights weights;
        try { weights = LLamaWeights.LoadFromFile(parameters); }
        catch (LoadWeightsFailedException e)
        {
            throw new InvalidDataException($"llama.cpp could not load {options.ModelPath}: {NativeLog.RecentProblems()}", e);
        }
        LLamaContext? context = null;
        try
        {
            context = new LLamaContext(weights, parameters);
            var facts = ReadFacts(options, weights, context);
            // Every running sequence needs a slot in each decode batch; llama.cpp caps n_batch at n_ctx.
            if (facts.MaxSequences > facts.BatchSize)
                throw new ArgumentOutOfRangeException(nameof(options.MaxSequences), options.MaxSequences,
                    $"MaxSequences {facts.MaxSequences} exceeds the context's batch size {facts.BatchSize} (capped at the context size)");
            string? refusal = null;
            var tokenRows = options.TokensAsRows
                ? TokenEmbeddingRows.TryOpen(options.ModelPath, facts.EmbeddingWidth, facts.VocabSize, out refusal)
                : null;
            return new LlmEngine(weights, context, facts, options.OneShotSequences, tokenRows, refusal);
        }
        catch (Exception e)
        {
            // Nothing half-made outlives a failed load: the context and the weights hold native memory.
            context?.Dispose();
            weights.Dispose();
            if (e is RuntimeError or LLamaDecodeError)
                throw new InvalidOperationException($"llama.cpp could not create a context for {options.ModelPath}: " +
                                                    $"{NativeLog.RecentProblems()}", e);
            throw;
        }
    }

    static LlmModelFacts ReadFacts(LlmEngineOptions options, LLamaWeights weights, LLamaContext context)
    {
        var model = weights.NativeHandle;
        var vocab = model.Vocab;
        var ctx = context.NativeHandle;
        int? bos = Id(vocab.BOS);
        return new LlmModelFacts
        {
            ModelPath = options.ModelPath,
            Description = model.Description,
            EmbeddingWidth = model.EmbeddingSize,
            VocabSize = vocab.Count,
            LayerCount = model.LayerCount,
            TrainContextLength = model.ContextSize,
            ContextSize = (int)ctx.ContextSize,
            BatchSize = (int)ctx.BatchSize,
            MaxSequences = Math.Min((int)ctx.MaxSeq, options.MaxSequences),
            ChatTemplate = model.GetTemplate(null, strict: false),
            BosToken = bos,
            EosToken = Id(vocab.EOS),
            EotToken = Id(vocab.EOT),
            AddBos = vocab.ShouldAddBOS,
            BosText = bos is int b ? vocab.LLamaTokenToString((LLamaToken)b, isSpecialToken: true) : null,
        };
    }

    static int? Id(LLamaToken? token) => token is LLamaToken t ? (int)t : null;

    /// <summary>Throws ArgumentException when visual tokens of this width cannot be injected into this model
    /// (the projector was made for another LLM).</summary>
    public void ValidateVisualWidth(int width)
    {
        if (width != Facts.EmbeddingWidth)
            throw new ArgumentException(
                $"visual tokens are {width} wide but the LLM's embedding width (n_embd) is {Facts.EmbeddingWidth}: " +
                "the projector does not match this model", nameof(width));
    }

    /// <summary>A new, empty sequence. With keepHistory its KV cache stays after each generation for follow-ups
    /// (until evicted, reset or disposed); without it the cache is freed when a generation ends.</summary>
    /// <param name="oneShot">A one-shot request's sequence (see <see cref="LlmSession.OneShot"/>); implied without history.</param>
    public LlmSession CreateSession(bool keepHistory = true, bool oneShot = false)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return new LlmSession(scheduler, Interlocked.Increment(ref nextSessionId), keepHistory, oneShot);
    }

    /// <summary>
    /// Appends <paramref name="prompt"/> to the session's sequence and generates. The stream yields text pieces and
    /// ends with one <see cref="GenerationFinished"/>; failures (<see cref="ContextOverflowException"/>,
    /// <see cref="SequenceEvictedException"/>, …) are thrown from the enumeration. Cancelling the token (or leaving the
    /// enumeration early) ends it with FinishReason.Cancelled and frees the sequence's KV history. Arguments are
    /// validated here; the request is queued when enumeration starts.
    /// </summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(LlmSession session, IReadOnlyList<PromptSegment> prompt,
        SamplingParams sampling, CancellationToken cancellationToken = default) =>
        Generate(session, prompt, sampling, expectedEpoch: -1, resetFirst: false, cancellationToken);

    /// <param name="expectedEpoch">History version the prompt was rendered against (-1: any).</param>
    /// <param name="resetFirst">Drop the session's history before prefilling (a full re-render).</param>
    /// <param name="replayedPositions">Leading positions of the prompt that replay a history (kept from the repetition penalty).</param>
    internal IAsyncEnumerable<GenerationEvent> Generate(LlmSession session, IReadOnlyList<PromptSegment> prompt,
        SamplingParams sampling, int expectedEpoch, bool resetFirst, CancellationToken cancellationToken, int replayedPositions = 0)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sampling);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (session.Scheduler != scheduler) throw new ArgumentException($"{session} belongs to another engine", nameof(session));
        sampling.Validate();
        if (sampling.OutputFormat is { } format)
            outputVocabulary.Value.CheckWritable(format, text => Tokenize(text).SelectMany(TokenBytes).ToArray());
        if (sampling.LogitBias?.Keys.FirstOrDefault(id => id >= Facts.VocabSize, -1) is >= 0 and var outside)
            throw new ArgumentException($"token {outside} is outside the model's vocabulary [0, {Facts.VocabSize})",
                nameof(SamplingParams.LogitBias));
        var items = Compile(prompt);
        return Stream(session, items, sampling, expectedEpoch, resetFirst, replayedPositions, cancellationToken);
    }

    async IAsyncEnumerable<GenerationEvent> Stream(LlmSession session, List<PromptItem> items, SamplingParams sampling,
        int expectedEpoch, bool resetFirst, int replayedPositions, CancellationToken cancellationToken,
        [EnumeratorCancellation] CancellationToken enumeration = default)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeration);
        var request = new GenerationRequest(session, items, sampling, logitsOnly: false, cancel, replayedPositions,
            sampling.OutputFormat != null ? outputVocabulary.Value : null)
        {
            Epoch = expectedEpoch,
            ResetFirst = resetFirst,
        };
        scheduler.Submit(request);
        bool ended = false;
        try
        {
            await foreach (var e in request.Events.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                ended |= e is GenerationFinished;
                yield return e;
            }
            ended = true;
        }
        finally
        {
            if (!ended) cancel.Cancel();         // the consumer walked away: stop generating for nobody
        }
    }

    /// <summary>Logits of the last position of <paramref name="prompt"/>, evaluated on a temporary sequence.</summary>
    public async Task<float[]> ComputeLogitsAsync(IReadOnlyList<PromptSegment> prompt, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var items = Compile(prompt);
        using var session = CreateSession(keepHistory: false);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var request = new GenerationRequest(session, items, SamplingParams.Greedy(1), logitsOnly: true, cancel);
        scheduler.Submit(request);
        GenerationFinished? final = null;
        await foreach (var e in request.Events.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            final = e as GenerationFinished ?? final;
        cancellationToken.ThrowIfCancellationRequested();
        return final?.Reason == FinishReason.Stop && request.Logits != null
            ? request.Logits
            : throw new OperationCanceledException("logits evaluation was cancelled");
    }

    /// <summary>Token ids of <paramref name="text"/> (no BOS unless asked).</summary>
    public int[] Tokenize(string text, bool addBos = false, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (text.Length == 0) return addBos && Facts.BosToken is int bos ? [bos] : [];
        return weights.NativeHandle.Tokenize(text, addBos, parseSpecial, Encoding.UTF8).Select(t => (int)t).ToArray();
    }

    /// <summary>The raw bytes a token stands for in output text (empty for control tokens).</summary>
    public byte[] TokenBytes(int token)
    {
        CheckToken(token, nameof(token));
        Span<byte> buffer = stackalloc byte[256];
        int n = (int)weights.NativeHandle.TokenToSpan(token, buffer, 0, false);
        if (n <= buffer.Length) return buffer[..n].ToArray();
        var big = new byte[n];
        weights.NativeHandle.TokenToSpan(token, big, 0, false);
        return big;
    }

    /// <summary>Tokenises text segments and checks token ids and embedding widths, on the caller's thread.</summary>
    List<PromptItem> Compile(IReadOnlyList<PromptSegment> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var items = new List<PromptItem>();
        var tokens = new List<int>();
        void FlushTokens()
        {
            if (tokens.Count > 0) items.Add(new TokenRun(tokens.ToArray()));
            tokens.Clear();
        }
        foreach (var segment in prompt)
        {
            switch (segment)
            {
                case TextSegment t:
                    ArgumentNullException.ThrowIfNull(t.Value, nameof(prompt));
                    tokens.AddRange(Tokenize(t.Value, addBos: false, t.ParseSpecial));
                    break;
                case TokenSegment t:
                    foreach (int id in t.Ids) CheckToken(id, nameof(prompt));
                    tokens.AddRange(t.Ids);
                    break;
                case EmbeddingSegment e:
                    if (e.Block.Width != Facts.EmbeddingWidth)
                        throw new ArgumentException($"an embedding block is {e.Block.Width} wide but the model's embedding " +
                                                    $"width (n_embd) is {Facts.EmbeddingWidth}", nameof(prompt));
                    FlushTokens();
                    items.Add(new EmbeddingRun(e.Block));
                    break;
                default:
                    throw new ArgumentException($"unknown prompt segment {segment?.GetType().Name ?? "null"}", nameof(prompt));
            }
        }
        FlushTokens();
        if (items.Count == 0) throw new ArgumentException("the prompt is empty: it must add at least one position", nameof(prompt));
        return items;
    }

    void CheckToken(int id, string parameter)
    {
        if (id < 0 || id >= Facts.VocabSize)
            throw new ArgumentOutOfRangeException(parameter, id, $"token id {id} is outside the vocabulary [0, {Facts.VocabSize})");
    }

    internal GenerationScheduler Scheduler => scheduler;

    /// <summary>Stops the loop (running generations fail with ObjectDisposedException) and frees the model.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        scheduler.Dispose();
        tokenRows?.Dispose();
        context.Dispose();
        weights.Dispose();
    }
}
