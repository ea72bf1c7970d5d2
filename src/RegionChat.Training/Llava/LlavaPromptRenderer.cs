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
    const int MaxCachedQuestions = 64;

    readonly LlamaTokenizer _tokenizer;
    readonly int[] _beforeImage;
    readonly Dictionary<string, int[]> _afterImage = new(StringComparer.Ordinal);

    public LlavaPromptRenderer(LlamaTokenizer tokenizer, string systemPrompt = ShapesText.SystemLine)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ArgumentNullException.ThrowIfNull(systemPrompt);
        SystemPrompt = systemPrompt;
        _beforeImage = [tokenizer.BosId, .. tokenizer.Encode(systemPrompt + " USER: ", addBos: false)];
    }

    public string SystemPrompt { get; }

    public LlamaTokenizer Tokenizer => _tokenizer;

    /// <summary>BOS and "{system} USER: ": the same for every question.</summary>
    public IReadOnlyList<int> BeforeImage => _beforeImage;

    /// <summary>The prompt for <paramref name="question"/>, ready for the answer (Answer empty).</summary>
    public LlavaSequence Prompt(string question) => new(_beforeImage, AfterImage(question), []);

    /// <summary>The prompt and its answer (ending in EOS) for training.</summary>
    /// <exception cref="InvalidOperationException">The answer's text would change the prompt's last tokens (it cannot
    /// here: the prompt ends in "ASSISTANT:" and the answer starts with a space).</exception>
    public LlavaSequence Render(string question, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        int[] after = AfterImage(question);
        int[] all = _tokenizer.Encode(AfterImageText(question) + " " + answer, addBos: false);
        if (all.Length <= after.Length || !all.AsSpan(0, after.Length).SequenceEqual(after))
            throw new InvalidOperationException($"answer '{answer}' merges into the prompt's tokens; the prompt would not be a prefix");
        return new LlavaSequence(_beforeImage, after, [.. all[after.Length..], _tokenizer.EosId]);
    }

    /// <summary>A caption alone as a text sequence: BOS, the caption, EOS (stage 3's plain language data).</summary>
    public int[] Text(string text) => [_tokenizer.BosId, .. _tokenizer.Encode(text, addBos: false), _tokenizer.EosId];

    static string AfterImageText(string question) => "\n" + question + " ASSISTANT:";

    int[] AfterImage(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        lock (_afterImage)
        {
            if (_afterImage.TryGetValue(question, out var ids)) return ids;
            ids = _tokenizer.Encode(AfterImageText(question), addBos: false);
            if (_afterImage.Count < MaxCachedQuestions) _afterImage[question] = ids;   // the world's questions, not every user's
            return ids;
        }
    }
}
