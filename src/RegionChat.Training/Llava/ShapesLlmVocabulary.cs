using RegionChat.Llm.Tokenization;
using RegionChat.Llm.Vocabulary;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>
/// The LLM vocabulary of the shapes world: every whitespace-separated word of the system line, the template markers
/// ("USER:", "ASSISTANT:"), the questions (with their final "?" kept on the word, so "it?" and "there?" are single
/// pieces) and the answers, each as a SentencePiece word piece "▁word" with all its prefixes. Anything else (the "\n"
/// after the image, the first question word that follows it without a space) falls back to llama.cpp's byte tokens,
/// which the twin's tokenizer reproduces exactly.
/// </summary>
public static class ShapesLlmVocabulary
{
    /// <summary>The words, in a fixed order (ordinal sort), so the vocabulary and its ids never change.</summary>
    public static IReadOnlyList<string> Words { get; } = BuildWords();

    /// <summary>The vocabulary (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 byte tokens, then the word pieces).</summary>
    public static LlamaVocabulary Create() => LlamaVocabulary.FromWords(Words);

    /// <summary>The tokenizer llama.cpp builds from the GGUF this vocabulary is written into.</summary>
    public static LlamaTokenizer Tokenizer(LlamaVocabulary vocabulary) => LlamaTokenizer.FromVocabulary(vocabulary);

    static string[] BuildWords()
    {
        var texts = new List<string> { ShapesText.SystemLine, "and" };
        texts.AddRange(ShapesCorpus.TemplateMarkers.Where(m => m != ShapesText.ImagePlaceholder));
        texts.AddRange(ShapesText.RegionQuestions);
        texts.AddRange(ShapesText.ImageQuestions);
        texts.AddRange(ShapesText.CountWords);
        texts.AddRange(ShapesCorpus.AllRegionQa().Select(qa => qa.Answer));
        return texts.SelectMany(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }
}
