using RegionChat.Llm.Tokenization;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>
/// Renders questions and answers into token ids exactly as the inference engine renders template llava_v1
/// (RegionChat.Llm.Engine, VicunaStyleTemplate): BOS, then the text "{system} USER: " tokenised on its own, the image
/// rows, then "\n{question} ASSISTANT:" tokenised on its own (llama.cpp gives each text piece its leading space
/// prefix), and for training the answer " {answer}" followed by the EOS token that llava_v1 writes as "&lt;/s&gt;".
/// The answer's ids are those of the whole "\n{question} ASSISTANT: {answer}" text after the prompt's ids, which is
/// how the model meets them when it generates after "ASSISTANT:".
/// </summary>
public sealed class LlavaPromptRenderer
{
    const int MaxCachedQuestions = 64, MaxCachedPieces = 256;

    readonly LlamaTokenizer tokenizer;
    readonly int[] beforeImage;
    readonly Dictionary<string, int[]> afterImage = new(StringComparer.Ordinal);
    readonly Dictionary<string, int[]> pieces = new(StringComparer.Ordinal);

    public LlavaPromptRenderer(LlamaTokenizer tokenizer, string systemPrompt = ShapesText.SystemLine)
    {
        this.tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ArgumentNullException.ThrowIfNull(systemPrompt);
        SystemPrompt = systemPrompt;
        beforeImage = [tokenizer.BosId, .. tokenizer.Encode(systemPrompt + " USER: ", addBos: false)];
    }

    public string SystemPrompt { get; }

    public LlamaTokenizer Tokenizer => tokenizer;

    /// <summary>BOS and "{system} USER: ": the same for every question.</summary>
    public IReadOnlyList<int> BeforeImage => beforeImage;

    /// <summary>The prompt for <paramref name="question"/>, ready for the answer (Answer empty).</summary>
    public LlavaSequence Prompt(string question) => new(beforeImage, AfterImage(question), []);

    /// <summary>The prompt and its answer (ending in EOS) for training.</summary>
    /// <exception cref="InvalidOperationException">The answer's text would change the prompt's last tokens (it cannot
    /// here: the prompt ends in "ASSISTANT:" and the answer starts with a space).</exception>
    public LlavaSequence Render(string question, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        int[] after = AfterImage(question);
        int[] all = tokenizer.Encode(AfterImageText(question) + " " + answer, addBos: false);
        if (all.Length <= after.Length || !all.AsSpan(0, after.Length).SequenceEqual(after))
            throw new InvalidOperationException($"answer '{answer}' merges into the prompt's tokens; the prompt would not be a prefix");
        return new LlavaSequence(beforeImage, after, [.. all[after.Length..], tokenizer.EosId]);
    }

    /// <summary>
    /// A conversation as the engine's ChatSession renders it turn by turn: the first turn (which shows an image) as
    /// <see cref="Render"/>; each later turn as the template's follow-up after the previous answer's EOS — "USER: ",
    /// the image and "\n{question} ASSISTANT:" for a turn that shows an image (each text piece tokenised on its own),
    /// "USER: {question} ASSISTANT:" for one that does not — then " {answer}" and EOS. Every answer and its EOS count.
    /// </summary>
    /// <exception cref="ArgumentException">No turns, or the first turn shows no image.</exception>
    public LlavaChatSequence RenderChat(IReadOnlyList<LlavaChatTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        if (turns.Count == 0 || !turns[0].ShowsImage) throw new ArgumentException("a conversation starts with a turn that shows an image", nameof(turns));
        var texts = new List<int[]>();
        var counted = new List<bool[]>();
        var run = new List<int>(beforeImage);
        var marks = new List<bool>(new bool[beforeImage.Length]);
        for (int t = 0; t < turns.Count; t++)
        {
            var sample = turns[t].Sample;
            string prompt;
            if (turns[t].ShowsImage)
            {
                if (t > 0) Append(run, marks, Encode(TurnOpening), false);
                texts.Add([.. run]);
                counted.Add([.. marks]);
                run.Clear();
                marks.Clear();
                prompt = AfterImageText(sample.Question);
            }
            else prompt = TurnOpening + sample.Question + " ASSISTANT:";
            int[] promptIds = Encode(prompt);
            Append(run, marks, promptIds, false);
            Append(run, marks, [.. AnswerIds(prompt, promptIds, sample.Answer), tokenizer.EosId], true);
        }
        texts.Add([.. run]);
        counted.Add([.. marks]);
        return new LlavaChatSequence(texts, counted);
    }

    const string TurnOpening = "USER: ";

    static void Append(List<int> run, List<bool> marks, int[] ids, bool count)
    {
        run.AddRange(ids);
        for (int i = 0; i < ids.Length; i++) marks.Add(count);
    }

    int[] AnswerIds(string prompt, int[] promptIds, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        int[] all = tokenizer.Encode(prompt + " " + answer, addBos: false);
        if (all.Length <= promptIds.Length || !all.AsSpan(0, promptIds.Length).SequenceEqual(promptIds))
            throw new InvalidOperationException($"answer '{answer}' merges into the prompt's tokens; the prompt would not be a prefix");
        return all[promptIds.Length..];
    }

    int[] Encode(string text)
    {
        lock (pieces)
        {
            if (pieces.TryGetValue(text, out var ids)) return ids;
            ids = tokenizer.Encode(text, addBos: false);
            if (pieces.Count < MaxCachedPieces) pieces[text] = ids;
            return ids;
        }
    }

    /// <summary>A caption alone as a text sequence: BOS, the caption, EOS (stage 3's plain language data).</summary>
    public int[] Text(string text) => [tokenizer.BosId, .. tokenizer.Encode(text, addBos: false), tokenizer.EosId];

    static string AfterImageText(string question) => "\n" + question + " ASSISTANT:";

    int[] AfterImage(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        lock (afterImage)
        {
            if (afterImage.TryGetValue(question, out var ids)) return ids;
            ids = tokenizer.Encode(AfterImageText(question), addBos: false);
            if (afterImage.Count < MaxCachedQuestions) afterImage[question] = ids;   // the world's questions, not every user's
            return ids;
        }
    }
}
