namespace RegionChat.Data.Shapes;

/// <summary>One training example: a question about a scene (the whole image, or one object when ObjectIndex is set).</summary>
public sealed record ShapesExample(long Seed, int? ObjectIndex, string Question, string Answer)
{
    /// <summary>The llava_v1-shaped prompt, up to "ASSISTANT:".</summary>
    public string Prompt => ShapesText.Prompt(Question);

    /// <summary>Prompt, one space, answer (the tokenizer adds the end-of-sequence token).</summary>
    public string TrainingText => ShapesText.PromptWithAnswer(Question, Answer);
}

/// <summary>The text side of the shapes world, for building the LLM vocabulary and its training strings.</summary>
public static class ShapesCorpus
{
    /// <summary>
    /// Every distinct word of the system line, the questions, the answers and the captions (region and whole-image),
    /// sorted ordinally, with the question mark split off (it is in <see cref="Punctuation"/>). The prompt template's
    /// markers are in <see cref="TemplateMarkers"/>, not here.
    /// </summary>
    public static IReadOnlyList<string> Words { get; } = BuildWords();

    /// <summary>The only punctuation: the final "?" of questions.</summary>
    public static IReadOnlyList<string> Punctuation { get; } = ["?"];

    /// <summary>The fixed pieces of the prompt template besides <see cref="ShapesText.SystemLine"/>.</summary>
    public static IReadOnlyList<string> TemplateMarkers { get; } = ["USER:", ShapesText.ImagePlaceholder, "ASSISTANT:"];

    /// <summary>Every region question with its answer for every shape × colour × size (5 × 6 × 2 × 4 = 240 pairs).</summary>
    public static IEnumerable<ShapesQa> AllRegionQa() =>
        from size in ShapeWords.AllSizes
        from color in ShapeWords.AllColors
        from shape in ShapeWords.AllShapes
        from qa in ShapesText.RegionQa(size, color, shape)
        select qa;

    /// <summary>The examples of one scene: its whole-image QA, then each object's region QA in draw order.</summary>
    public static IEnumerable<ShapesExample> Examples(ShapesScene scene)
    {
        foreach (var qa in scene.Qa) yield return new ShapesExample(scene.Seed, null, qa.Question, qa.Answer);
        foreach (var o in scene.Objects)
            foreach (var qa in o.Qa)
                yield return new ShapesExample(scene.Seed, o.Index, qa.Question, qa.Answer);
    }

    /// <summary>The examples of the scenes of seeds first .. first+count-1, lazily.</summary>
    public static IEnumerable<ShapesExample> Examples(long firstSeed, int count) =>
        ShapesGenerator.GenerateMany(firstSeed, count).SelectMany(Examples);

    /// <summary>Splits a caption, question or answer into <see cref="Words"/> and <see cref="Punctuation"/> pieces.</summary>
    public static IEnumerable<string> Tokens(string text)
    {
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.Length > 1 && word.EndsWith('?'))
            {
                yield return word[..^1];
                yield return "?";
            }
            else yield return word;
        }
    }

    static string[] BuildWords()
    {
        var texts = new List<string> { ShapesText.SystemLine, "and" };   // "and" joins whole-image captions
        texts.AddRange(ShapesText.RegionQuestions);
        texts.AddRange(ShapesText.ImageQuestions);
        texts.AddRange(ShapesText.CountWords);
        foreach (var qa in AllRegionQa()) texts.Add(qa.Answer);
        return texts.SelectMany(Tokens).Where(t => t != "?").Distinct().Order(StringComparer.Ordinal).ToArray();
    }
}
