using System.Runtime.CompilerServices;
using System.Text;

namespace RegionChat.Llm.Engine;

/// <summary>
/// A conversation on one engine sequence: renders turns with a <see cref="ChatTemplate"/>, keeps the KV history so a
/// follow-up prefills only its new tokens, and records the answers. When the sequence lost its history by the
/// session's own doing (a cancelled turn, a failure) the next turn re-renders the whole conversation; when it was
/// evicted the next turn throws <see cref="SequenceEvictedException"/>. Each recorded turn is described exactly
/// (<see cref="Turns"/>: the token ids and embedding blocks fed, the tokens generated), so a conversation can be
/// rebuilt on another sequence or engine by <see cref="Restore"/>, which replays it before its next turn.
/// </summary>
public sealed class ChatSession : IDisposable
{
    readonly LlmEngine engine;
    readonly List<(ChatMessage Message, string? Raw)> history = [];
    readonly List<ChatTurnRecord> turns = [];
    List<PromptSegment>? replay;   // positions a restored session prefills before its next turn, until one succeeds
    int replayPositions;
    int syncedEpoch = -1;       // sequence history version that holds _history up to its open last answer
    int version;                // bumped with every recorded turn
    int busy;

    /// <param name="oneShot">A chat of one request that ends with it (see <see cref="LlmSession.OneShot"/>).</param>
    public ChatSession(LlmEngine engine, ChatTemplate template, string? systemPrompt = null, bool oneShot = false)
    {
        this.engine = engine ?? throw new ArgumentNullException(nameof(engine));
        Template = template ?? throw new ArgumentNullException(nameof(template));
        SystemPrompt = systemPrompt ?? template.DefaultSystemPrompt;
        Sequence = engine.CreateSession(keepHistory: true, oneShot);
    }

    public ChatTemplate Template { get; }
    public string? SystemPrompt { get; }
    public LlmSession Sequence { get; }

    /// <summary>The turns so far; answers as shown to the user (leading whitespace and stop strings cut).</summary>
    public IReadOnlyList<ChatMessage> History => history.Select(h => h.Message).ToArray();

    /// <summary>Each recorded turn exactly as the sequence got it (read it between turns).</summary>
    public IReadOnlyList<ChatTurnRecord> Turns => turns;

    /// <summary>Whether the next turn rebuilds the conversation first (a restored session, or an evicted one with
    /// <see cref="ReplayWhenEvicted"/>), until a turn succeeds.</summary>
    public bool ReplayPending => replay != null;

    /// <summary>Positions the turn started last prefilled to replay the recorded turns (0: none).</summary>
    public int ReplayedPositions { get; private set; }

    /// <summary>
    /// A conversation rebuilt from its recorded turns (<see cref="Turns"/> of an earlier session, with the same
    /// embedding blocks re-made): on a new sequence, its next turn first prefills every recorded position since the
    /// last turn that started from scratch (prompt token ids, embedding blocks, generated token ids), then the turn's
    /// own prompt, which is exactly what a follow-up on the original sequence would have fed.
    /// </summary>
    public static ChatSession Restore(LlmEngine engine, ChatTemplate template, string? systemPrompt, IReadOnlyList<ChatTurnRecord> recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        var chat = new ChatSession(engine, template, systemPrompt);
        if (recorded.Count == 0) return chat;
        foreach (var t in recorded)
        {
            foreach (var m in t.Messages) chat.history.Add((m, null));
            chat.history.Add((ChatMessage.Assistant(t.Answer), t.RawAnswer));
            chat.turns.Add(t);
        }
        chat.ReplayRecordedTurns();
        return chat;
    }

    public IAsyncEnumerable<GenerationEvent> GenerateAsync(ChatMessage userMessage, SamplingParams sampling,
        CancellationToken cancellationToken = default) => GenerateAsync([userMessage], sampling, cancellationToken);

    /// <summary>Adds <paramref name="newMessages"/> (ending with a user turn) and streams the answer. Arguments and the
    /// sequence's state are checked here, the turn starts when the stream is enumerated, and it is recorded when the
    /// stream finishes with Stop or Length. One turn at a time. When the template <see cref="ChatTemplate.ContinuesAnswers"/>,
    /// the messages may end with the start of the answer (an assistant message): the stream carries what follows it, as
    /// generated (leading spaces kept), and the turn is recorded with the whole answer.</summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(IReadOnlyList<ChatMessage> newMessages, SamplingParams sampling,
        CancellationToken cancellationToken = default)
    {
        Template.Validate(newMessages);
        ArgumentNullException.ThrowIfNull(sampling);
        sampling.Validate();
        var (state, epoch) = Sequence.Snapshot();
        if (state == LlmSessionState.Evicted && replay == null)
        {
            if (!ReplayWhenEvicted || turns.Count == 0) throw new SequenceEvictedException(Sequence.Id);
            ReplayRecordedTurns();
        }
        if (state == LlmSessionState.Closed) throw new ObjectDisposedException(nameof(ChatSession));

        var messages = newMessages.ToArray();
        IReadOnlyList<PromptSegment>? prompt = null;
        bool replaying = replay != null && history.Count > 0 && history[^1].Raw != null;
        bool inSync = replaying || (state == LlmSessionState.Holding && epoch == syncedEpoch && history.Count > 0 && history[^1].Raw != null);
        if (inSync)
        {
            var before = history.Take(history.Count - 1).Select(h => h.Message).ToArray();
            prompt = Template.RenderFollowUp(SystemPrompt, before, history[^1].Raw!, messages);
        }
        bool full = prompt == null;
        prompt = Lower(prompt ?? Template.Render(SystemPrompt, [.. history.Select(h => h.Message), .. messages]));
        IReadOnlyList<PromptSegment> fed = prompt;
        int replayed = 0;
        if (!full && replaying)
        {
            fed = [.. replay!, .. prompt];
            replayed = replayPositions;
        }
        ReplayedPositions = replayed;
        var stream = engine.Generate(Sequence, fed, sampling, expectedEpoch: full || replayed > 0 ? -1 : epoch,
            resetFirst: (full || replayed > 0) && state != LlmSessionState.Fresh, cancellationToken, replayed);
        return messages[^1].Role == ChatRole.Assistant
            ? Record(stream, messages[..^1], messages[^1].Text, prompt, full, version)
            : Record(stream, messages, null, prompt, full, version);
    }

    /// <summary>When the sequence was evicted, the next turn replays the recorded turns instead of throwing
    /// <see cref="SequenceEvictedException"/> (a session with no recorded turn still throws).</summary>
    public bool ReplayWhenEvicted { get; set; }

    /// <summary>Sets the next turn to prefill every recorded position since the last turn that started from scratch.</summary>
    void ReplayRecordedTurns()
    {
        int from = 0;
        for (int i = 0; i < turns.Count; i++) if (turns[i].FromStart) from = i;
        var positions = new List<PromptSegment>();
        foreach (var t in turns.Skip(from))
        {
            positions.AddRange(t.Prompt);
            if (t.Output.Count > 0) positions.Add(PromptSegment.Tokens(t.Output));
        }
        replayPositions = positions.Sum(p => p switch
        {
            TokenSegment tokens => tokens.Ids.Count,
            EmbeddingSegment e => e.Block.Count,
            _ => throw new ArgumentException("a recorded prompt holds only token ids and embedding blocks"),
        });
        replay = positions;
    }

    /// <summary>Text segments as the token ids the engine will feed (what a turn record keeps).</summary>
    List<PromptSegment> Lower(IReadOnlyList<PromptSegment> prompt) => prompt.Select(p => p is TextSegment t
        ? PromptSegment.Tokens(engine.Tokenize(t.Value, addBos: false, t.ParseSpecial)) : p).ToList();

    /// <param name="answerStart">The start of the answer the turn continues (null: none), recorded in front of it.</param>
    async IAsyncEnumerable<GenerationEvent> Record(IAsyncEnumerable<GenerationEvent> stream, ChatMessage[] messages, string? answerStart,
        IReadOnlyList<PromptSegment> prompt, bool fromStart, int version, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref busy, 1) == 1)
            throw new InvalidOperationException("this chat already has a turn in flight; wait for it to finish");
        try
        {
            if (version != this.version)
                throw new InvalidOperationException("the conversation moved on after this turn was prepared; prepare it again");
            var shown = new StringBuilder();
            await foreach (var item in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                var e = item;
                if (e is TextPiece p)
                {
                    // The answer opens with the template's separator, which SentencePiece models sample as the first
                    // token's "▁": shown (and recorded, since the template writes the separator itself) without it.
                    // A continued answer's text is the given start's continuation: its spaces are words' separators.
                    if (shown.Length == 0 && answerStart == null)
                    {
                        string text = p.Text.TrimStart();
                        if (text.Length == 0 && p.Logprobs.Count == 0) continue;
                        e = p = p with { Text = text };
                    }
                    shown.Append(p.Text);
                }
                if (e is GenerationFinished { Reason: FinishReason.Stop or FinishReason.Length } f)
                {
                    foreach (var m in messages) history.Add((m, null));
                    string answer = answerStart + shown, raw = answerStart + f.RawText;
                    history.Add((ChatMessage.Assistant(answer), raw));
                    turns.Add(new ChatTurnRecord(fromStart, messages, prompt.Where(p => p is not TokenSegment { Ids.Count: 0 }).ToArray(),
                        f.OutputTokens, answer, raw));
                    replay = null;
                    syncedEpoch = Sequence.Snapshot().Epoch;
                    this.version++;
                }
                yield return e;
            }
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
    }

    /// <summary>Frees the sequence's KV history.</summary>
    public void Dispose() => Sequence.Dispose();
}

/// <summary>
/// One turn as a chat sequence got it: whether it started from scratch (<paramref name="FromStart"/>: the whole
/// conversation rendered again), the new <paramref name="Messages"/>, the <paramref name="Prompt"/> fed (token ids
/// and embedding blocks, in order; on a follow-up it comes after the previous turn's generated tokens) and the
/// <paramref name="Output"/> token ids sampled (an end-of-generation token excluded), with the answer as shown and raw.
/// </summary>
public sealed record ChatTurnRecord(bool FromStart, IReadOnlyList<ChatMessage> Messages, IReadOnlyList<PromptSegment> Prompt,
    IReadOnlyList<int> Output, string Answer, string RawAnswer);
