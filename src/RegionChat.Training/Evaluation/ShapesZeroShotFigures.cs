namespace RegionChat.Training.Evaluation;

/// <summary>
/// Zero-shot region classification top-1 over every object (the 60 prompts "a {size} {color} {shape}" through the
/// model's CLIP text tower): plain CLIP (the stage-1 image tower) with the whole image, and the model's Alpha-CLIP tower
/// with the whole image, the object's box and its mask. A null figure could not be measured; the notes say why.
/// </summary>
public sealed record ShapesZeroShotFigures(ShapesEvalFraction? ClipWhole, ShapesEvalFraction? AlphaWhole, ShapesEvalFraction? AlphaBox,
    ShapesEvalFraction? AlphaMask, string? ClipNote = null, string? AlphaNote = null);
