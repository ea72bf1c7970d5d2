using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>
/// One question about a scene as the LLaVA stages see it: the image, the region shown through the alpha channel (its
/// visible mask, its box, or the whole image when <see cref="Region"/> is null or the mode is Whole), the question and
/// the expected answer.
/// </summary>
public sealed record LlavaSample(ShapesScene Scene, ShapesObject? Region, RegionAlphaMode Mode, string Question, string Answer)
{
    /// <summary>A whole-image question (all-ones alpha).</summary>
    public static LlavaSample Whole(ShapesScene scene, ShapesQa qa) => new(scene, null, RegionAlphaMode.Whole, qa.Question, qa.Answer);

    /// <summary>A region question with the region shown as its visible mask or its box.</summary>
    public static LlavaSample OfRegion(ShapesScene scene, ShapesObject region, RegionAlphaMode mode, ShapesQa qa)
    {
        if (mode == RegionAlphaMode.Whole) throw new ArgumentException("a region question needs a mask or box alpha", nameof(mode));
        return new(scene, region, mode, qa.Question, qa.Answer);
    }

    public override string ToString() =>
        $"scene {Scene.Seed}" + (Region is null ? "" : $" region {Region.Index} ({Mode.ToString().ToLowerInvariant()})") + $": {Question} -> {Answer}";
}
