namespace RegionChat.Data.Shapes;

/// <summary>
/// The follow-up questions of a conversation (see SPEC.md, "Conversations"): asked after a region was shown, with no new
/// image, about the most recent region ("it") or about it and the region shown before it ("the previous one").
/// Answers are a colour word, a shape word, or "yes" / "no".
/// </summary>
public static class ShapesChatText
{
    public const string WhatColour = "what colour is it?";
    public const string WhatShape = ShapesText.WhatShape;
    public const string IsItLarge = "is it large?";

    public const string SameColour = "is it the same colour as the previous one?";
    public const string SameShape = "is it the same shape as the previous one?";
    public const string Bigger = "is it bigger than the previous one?";
    public const string LeftOf = "is it to the left of the previous one?";

    /// <summary>Training-only follow-ups about the region shown before the latest (the relations' "previous one").</summary>
    public const string PreviousColour = "what colour is the previous one?";
    public const string PreviousShape = "what shape is the previous one?";

    /// <summary>Training-only follow-ups about where a region is: its visible pixels' bounding-box centre left of the
    /// canvas middle ("left of" needs each region's x; these give the LLM a first-order reason to read it).</summary>
    public const string IsItLeft = "is it to the left?";
    public const string PreviousLeft = "is the previous one to the left?";

    public const string Yes = "yes";
    public const string No = "no";

    /// <summary>Follow-ups about the most recent region.</summary>
    public static IReadOnlyList<string> FollowUpQuestions { get; } = [WhatColour, WhatShape, IsItLarge];

    /// <summary>Relation questions: the most recent region against the one shown before it.</summary>
    public static IReadOnlyList<string> RelationQuestions { get; } = [SameColour, SameShape, Bigger, LeftOf];

    /// <summary>The answer to a follow-up about <paramref name="region"/> (one of <see cref="FollowUpQuestions"/>, or the
    /// training-only <see cref="IsItLeft"/>: "yes" when twice its visible centre x is below the canvas side).</summary>
    public static string FollowUpAnswer(string question, ShapesObject region) => question switch
    {
        WhatColour => region.Color.Word(),
        WhatShape => region.Shape.Word(),
        IsItLarge => YesNo(region.Size == ShapeSize.Large),
        IsItLeft => YesNo(VisibleCentreX2(region) < ShapesSpec.CanvasSize),
        _ => throw new ArgumentException($"'{question}' is not a follow-up question", nameof(question)),
    };

    /// <summary>Training-only follow-ups about the previous region (not asked by <c>eval shapes</c>).</summary>
    public static IReadOnlyList<string> PreviousRegionQuestions { get; } = [PreviousColour, PreviousShape];

    /// <summary><see cref="PreviousRegionQuestions"/> and "is the previous one to the left?" (training with position questions).</summary>
    public static IReadOnlyList<string> PreviousRegionQuestionsWithPosition { get; } = [PreviousColour, PreviousShape, PreviousLeft];

    /// <summary>The answer to a question of <see cref="PreviousRegionQuestions"/> about <paramref name="previous"/>.</summary>
    public static string PreviousRegionAnswer(string question, ShapesObject previous) => question switch
    {
        PreviousColour => FollowUpAnswer(WhatColour, previous),
        PreviousShape => FollowUpAnswer(WhatShape, previous),
        PreviousLeft => FollowUpAnswer(IsItLeft, previous),
        _ => throw new ArgumentException($"'{question}' is not a question about the previous region", nameof(question)),
    };

    /// <summary>
    /// The answer to a relation question about <paramref name="current"/> against <paramref name="previous"/>: sizes
    /// order small &lt; large (equal sizes: "no"); "left" compares the centres of the visible pixels' bounding boxes
    /// (strictly smaller x: "yes").
    /// </summary>
    public static string RelationAnswer(string question, ShapesObject current, ShapesObject previous) => question switch
    {
        SameColour => YesNo(current.Color == previous.Color),
        SameShape => YesNo(current.Shape == previous.Shape),
        Bigger => YesNo(current.Size == ShapeSize.Large && previous.Size == ShapeSize.Small),
        LeftOf => YesNo(VisibleCentreX2(current) < VisibleCentreX2(previous)),
        _ => throw new ArgumentException($"'{question}' is not a relation question", nameof(question)),
    };

    static string YesNo(bool yes) => yes ? Yes : No;

    /// <summary>Twice the x centre of the visible pixels' bounding box (min x + max x + 1; whole numbers, no rounding).</summary>
    public static int VisibleCentreX2(ShapesObject region)
    {
        int side = ShapesSpec.CanvasSize, min = side, max = -1;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                if (region.VisibleMask[y * side + x] != 0)
                {
                    if (x < min) min = x;
                    if (x > max) max = x;
                }
        if (max < 0) throw new ArgumentException("the region has no visible pixels", nameof(region));
        return min + max + 1;
    }
}
