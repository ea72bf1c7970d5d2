using System.Runtime.CompilerServices;
using System.Text;

namespace RegionChat.Llm.Engine;

/// <summary>
/// A conversation on one engine sequence: renders turns with a <see cref="ChatTemplate"/>, keeps the KV history so a
/// follow-up prefills only its new tokens, and records the answers. When the sequence lost its history by the
/// session's own doing (a cancelled turn, a failure) the next turn re-renders the whole conversation; when it was
/// evicted the next turn throws <see cref="SequenceEvictedException"/>.
/// </summary>
public sealed class ChatSession : IDisposable
{
    readonly LlmEngine engine;
    readonly List<(ChatMessage Message, string? Raw)> history = [];
    int syncedEpoch = -1;       // sequence history version that holds _history up to its open last answer
    int version;                // bumped with every recorded turn
    int busy;

    public ChatSession(LlmEngine engine, ChatTemplate template, string? systemPrompt = null)
    {
        this.engine = engine ?? throw new ArgumentNullException(nameof(engine));
        Template = template ?? throw new ArgumentNullException(nameof(template));
        SystemPrompt = systemPrompt ?? template.DefaultSystemPrompt;
        Sequence = engine.CreateSession(keepHistory: true);
    }

    public ChatTemplate Template { get; }
    public string? SystemPrompt { get; }
    public LlmSession Sequence { get; }

    /// <summary>The turns so far; answers as shown to the user (leading whitespace and stop strings cut).</summary>
    public IReadOnlyList<ChatMessage> History => history.Select(h => h.Message).ToArray();

    public IAsyncEnumerable<GenerationEvent> GenerateAsync(ChatMessage userMessage, SamplingParams sampling,
        CancellationToken cancellationToken = default) => GenerateAsync([userMessage], sampling, cancellationToken);

    /// <summary>Adds <paramref name="newMessages"/> (ending with a user turn) and streams the answer. Arguments and the
    /// sequence's state are checked here, the turn starts when the stream is enumerated, and it is recorded when the
    /// stream finishes with Stop or Length. One turn at a time.</summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(IReadOnlyList<ChatMessage> newMessages, SamplingParams sampling,
        CancellationToken cancellationToken = default)
    {
        Template.Validate(newMessages);
        ArgumentNullException.ThrowIfNull(sampling);
        sampling.Validate();
        var (state, epoch) = Sequence.Snapshot();
        if (state == LlmSessionState.Evicted) throw new SequenceEvictedException(Sequence.Id);
        if (state == LlmSessionState.Closed) throw new ObjectDisposedException(nameof(ChatSession));

        var messages = newMessages.ToArray();
        IReadOnlyList<PromptSegment>? prompt = null;
        bool inSync = state == LlmSessionState.Holding && epoch == syncedEpoch && history.Count > 0 && history[^1].Raw != null;
        if (inSync)
        {
            var before = history.Take(history.Count - 1).Select(h => h.Message).ToArray();
            prompt = Template.RenderFollowUp(SystemPrompt, before, history[^1].Raw!, messages);
        }
        bool full = prompt == null;
        prompt ??= Template.Render(SystemPrompt, [.. history.Select(h => h.Message), .. messages]);
        var stream = engine.Generate(Sequence, prompt, sampling, expectedEpoch: full ? -1 : epoch,
            resetFirst: full && state != LlmSessionState.Fresh, cancellationToken);
        return Record(stream, messages, version);
    }

    async IAsyncEnumerable<GenerationEvent> Record(IAsyncEnumerable<GenerationEvent> stream, ChatMessage[] messages, int version,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
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
                    if (shown.Length == 0)
                    {
                        string text = p.Text.TrimStart();
                        if (text.Length == 0) continue;
                        e = p = new TextPiece(text);
                    }
                    shown.Append(p.Text);
                }
                if (e is GenerationFinished { Reason: FinishReason.Stop or FinishReason.Length } f)
                {
                    foreach (var m in messages) history.Add((m, null));
                    history.Add((ChatMessage.Assistant(shown.ToString()), f.RawText));
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
