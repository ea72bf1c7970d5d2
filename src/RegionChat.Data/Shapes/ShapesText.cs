namespace RegionChat.Data.Shapes;

/// <summary>
/// Every text form of the shapes world. All text is lower case with single spaces and no punctuation, except the final
/// "?" of questions.
/// <list type="bullet">
/// <item>Region caption: always "a {size} {color} {shape}" — article "a" even before "orange", the size always present.</item>
/// <item>Whole-image caption: the region captions ordered left to right, joined with single spaces and "and" before the last
/// one and no commas: "X", "X and Y", "X Y and Z", "W X Y and Z".</item>
/// <item>Prompt (llava_v1 shaped): "{system} USER: &lt;image&gt;\n{question} ASSISTANT:", the answer follows after one
/// space and ends with the model's end-of-sequence token (llava_v1 writes it as "&lt;/s&gt;").</item>
/// </list>
/// </summary>
public static class ShapesText
{
    /// <summary>The system line that opens every prompt.</summary>
    public const string SystemLine = "a chat about shapes";

    /// <summary>The placeholder the visual tokens replace.</summary>
    public const string ImagePlaceholder = "<image>";

    public const string DescribeRegion = "describe this region";
    public const string WhatColor = "what color is it?";
    public const string WhatShape = "what shape is it?";
    public const string SmallOrLarge = "is it small or large?";
    public const string DescribeImage = "describe the image";
    public const string HowMany = "how many objects are there?";

    /// <summary>The questions asked about a region, in the order <see cref="ShapesObject.Qa"/> lists them.</summary>
    public static IReadOnlyList<string> RegionQuestions { get; } = [DescribeRegion, WhatColor, WhatShape, SmallOrLarge];

    /// <summary>The questions asked about the whole image, in the order <see cref="ShapesScene.Qa"/> lists them.</summary>
    public static IReadOnlyList<string> ImageQuestions { get; } = [DescribeImage, HowMany];

    /// <summary>Answers to <see cref="HowMany"/>, index = count - 1.</summary>
    public static IReadOnlyList<string> CountWords { get; } = ["one", "two", "three", "four"];

    public static string RegionCaption(ShapeSize size, ShapeColor color, ShapeKind shape) =>
        $"a {size.Word()} {color.Word()} {shape.Word()}";

    /// <summary>Joins region captions (already in left-to-right order) into the whole-image caption.</summary>
    public static string ImageCaption(IEnumerable<string> captionsLeftToRight)
    {
        var parts = captionsLeftToRight.ToList();
        return parts.Count switch
        {
            0 => throw new ArgumentException("a scene has at least one object", nameof(captionsLeftToRight)),
            1 => parts[0],
            _ => string.Join(' ', parts.Take(parts.Count - 1)) + " and " + parts[^1],
        };
    }

    public static string CountWord(int count) =>
        count >= 1 && count <= CountWords.Count
            ? CountWords[count - 1]
            : throw new ArgumentOutOfRangeException(nameof(count), count, "a scene holds 1 to 4 objects");

    public static IReadOnlyList<ShapesQa> RegionQa(ShapeSize size, ShapeColor color, ShapeKind shape) =>
    [
        new(DescribeRegion, RegionCaption(size, color, shape)),
        new(WhatColor, color.Word()),
        new(WhatShape, shape.Word()),
        new(SmallOrLarge, size.Word()),
    ];

    public static IReadOnlyList<ShapesQa> ImageQa(string imageCaption, int objectCount) =>
    [
        new(DescribeImage, imageCaption),
        new(HowMany, CountWord(objectCount)),
    ];

    /// <summary>The prompt up to and including "ASSISTANT:", ready for the answer.</summary>
    public static string Prompt(string question) => $"{SystemLine} USER: {ImagePlaceholder}\n{question} ASSISTANT:";

    /// <summary>Prompt and answer as one training string (the end-of-sequence token is added by the tokenizer).</summary>
    public static string PromptWithAnswer(string question, string answer) => Prompt(question) + " " + answer;
}
