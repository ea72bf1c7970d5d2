using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace RegionChat.Llm.Engine.Internal;

internal enum RequestPhase { Queued, Prefilling, Decoding, Done }

/// <summary>One generation (or logits-only evaluation) on one session, from submission to its final event.
/// After submission only the scheduler's loop thread touches it.</summary>
internal sealed class GenerationRequest : SchedulerCommand
{
    /// <param name="unpenalisedPositions">Leading prompt positions the repetition penalty does not see (a replayed history,
    /// which a follow-up on the kept sequence would not have fed either).</param>
    /// <param name="outputVocabulary">The model's token bytes, for a sampling with an output format.</param>
    public GenerationRequest(LlmSession session, List<PromptItem> items, SamplingParams sampling, bool logitsOnly,
        CancellationTokenSource cancel, int unpenalisedPositions = 0, OutputVocabulary? outputVocabulary = null)
    {
        Session = session;
        Items = items;
        Sampling = sampling;
        LogitsOnly = logitsOnly;
        Cancel = cancel.Token;
        Sampler = new TokenSampler(sampling, outputVocabulary);
        Stops = new StopStringFilter(sampling.Stop);
        int skip = unpenalisedPositions;
        foreach (var item in items)
        {
            int skipped = Math.Min(skip, item.Count);
            skip -= skipped;
            if (item is TokenRun run)
                foreach (int t in run.Tokens.AsSpan(skipped)) Sampler.Accept(t);
        }
    }

    public LlmSession Session { get; }
    public SessionCore Core => Session.Core;
    public List<PromptItem> Items { get; }
    public SamplingParams Sampling { get; }
    public bool LogitsOnly { get; }
    public CancellationToken Cancel { get; }
    public CancellationTokenRegistration WakeRegistration { get; set; }
    public Channel<GenerationEvent> Events { get; } =
        Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public TokenSampler Sampler { get; }
    public Utf8StreamDecoder Text { get; } = new();
    public StopStringFilter Stops { get; }

    /// <summary>The prefix this request decodes for the scheduler's shared-prefix holder, until it is copied there.</summary>
    public int[]? PrefixToWrite { get; set; }

    /// <summary>Drop whatever the session holds before prefilling (a full re-render of a conversation).</summary>
    public bool ResetFirst { get; init; }
    /// <summary>All generated text, stop strings and what follows them included (what the KV cache holds).</summary>
    public StringBuilder RawText { get; } = new();

    /// <summary>Sampled tokens, a final end-of-generation token excluded.</summary>
    public List<int> OutputTokens { get; } = [];

    public string AddRaw(string text)
    {
        RawText.Append(text);
        return text;
    }

    /// <summary>History version the prompt was made for; -1 = whatever the session holds at submission.</summary>
    public int Epoch = -1;
    public RequestPhase Phase = RequestPhase.Queued;
    public int ItemIndex, ItemOffset;
    public int CachedTokens, NewPromptTokens, PrefilledTokens, CompletionTokens;
    /// <summary>Token sampled last, decoded by the next step.</summary>
    public int NextToken;
    /// <summary>KV cells still reserved for this request's remaining prompt and output.</summary>
    public int Reservation;
    /// <summary>Why the request fails instead of finishing, when sampling found that out.</summary>
    public Exception? Failure;
    /// <summary>Logits of the last prompt position, for logits-only requests.</summary>
    public float[]? Logits;

    // Per step: the prompt positions planned (image rows among them), whether the next token is decoded, and how many
    // positions went into each batch (tokens may go in as rows).
    public int StepPromptPositions, StepPlannedRows, StepTokenPositions, StepRowPositions;
    public bool StepDecodes;
    public int LogitIndex = -1;
    public bool LogitInEmbeddings;

    readonly Stopwatch queued = Stopwatch.StartNew();
    double queueMs, prefillMs, decodeMs;
    int prefillSteps, decodeSteps;

    /// <summary>The request got its KV room: tell the caller the prompt accounting before any text.</summary>
    public void MarkAdmitted()
    {
        queueMs = queued.Elapsed.TotalMilliseconds;
        Events.Writer.TryWrite(new PromptAdmitted(CachedTokens + NewPromptTokens, CachedTokens, NewPromptTokens, queueMs));
    }

    public void ResetStep()
    {
        StepPromptPositions = StepPlannedRows = StepTokenPositions = StepRowPositions = 0;
        StepDecodes = false;
        LogitIndex = -1;
        LogitInEmbeddings = false;
    }

    public bool InStep => StepPromptPositions > 0 || StepDecodes;

    /// <summary>Positions this step put in the embedding batch (true) or the token batch.</summary>
    public int Positions(bool embeddingBatch) => embeddingBatch ? StepRowPositions : StepTokenPositions;

    public void AddStepTime(double ms)
    {
        if (StepPromptPositions > 0) { prefillMs += ms; prefillSteps++; }
        else if (StepDecodes) { decodeMs += ms; decodeSteps++; }
    }

    /// <summary>Emits a text piece with the log-probabilities of the tokens it completes. <paramref name="last"/>: no
    /// more text follows (a stop string matched, or the output ended), so a token that shows any of its text here goes too.</summary>
    public void Emit(string text, bool last = false)
    {
        emittedChars += text.Length;
        List<TokenLogprob>? released = null;
        while (heldLogprobs.TryPeek(out var held) && (held.End <= emittedChars || last && held.Start < emittedChars))
            (released ??= []).Add(heldLogprobs.Dequeue().Logprob);
        if (text.Length > 0 || released != null) Events.Writer.TryWrite(new TextPiece(text) { Logprobs = released ?? [] });
    }

    /// <summary>Keeps a token's log-probability until the text it decoded to (characters [start, end) of
    /// <see cref="RawText"/>) is emitted.</summary>
    public void HoldLogprob(TokenLogprob logprob, int start, int end) => heldLogprobs.Enqueue((logprob, start, end));

    readonly Queue<(TokenLogprob Logprob, int Start, int End)> heldLogprobs = new();
    int emittedChars;

    public GenerationFinished Final(FinishReason reason) => new(
        reason,
        new GenerationUsage(CachedTokens + NewPromptTokens, CachedTokens, NewPromptTokens, PrefilledTokens, CompletionTokens,
            Core.KvLength),
        new GenerationTimings(Phase == RequestPhase.Queued ? queued.Elapsed.TotalMilliseconds : queueMs,
            prefillMs, decodeMs, prefillSteps, decodeSteps),
        Stops.Matched) { RawText = RawText.ToString(), OutputTokens = OutputTokens.ToArray() };
}
