using System.Text.Json.Nodes;
using RegionChat.Training.Clip;

namespace RegionChat.Training.Llava;

/// <summary>Stage 4 (LLaVA stage 1): the projector alone learns to speak the frozen LLM's language on region captions.</summary>
public sealed record ProjectorAlignOptions : LlavaTrainingOptions
{
    public ProjectorAlignOptions()
    {
        LearningRate = 2e-4;
        WarmupSteps = 20;
        BatchSize = 32;
    }

    /// <summary>Fraction of rows that caption the whole image ("describe the image", all-ones alpha).</summary>
    public double WholeImageFraction { get; init; } = 0.15;

    /// <summary>Fraction of region rows shown with the box instead of the mask.</summary>
    public double BoxFraction { get; init; }

    /// <summary>
    /// LLaVA's mm_vision_select_feature: false = "patch" (CLS dropped, LLaVA-1.5's default), true = "cls_patch". The
    /// Alpha-CLIP objective trains only the CLS path, so its CLS token carries the region's summary; kept for the LLM.
    /// </summary>
    public bool IncludeCls { get; init; }

    /// <summary>Validation alpha modes of the evaluation (describe questions only).</summary>
    public IReadOnlyList<RegionAlphaMode> EvalModes { get; init; } = [RegionAlphaMode.Mask];

    public override void Validate()
    {
        base.Validate();
        Check(WholeImageFraction is >= 0 and <= 1, $"whole-image fraction {WholeImageFraction} must be in 0..1");
        Check(BoxFraction is >= 0 and <= 1, $"box fraction {BoxFraction} must be in 0..1");
    }

    public override JsonObject TrainingKey()
    {
        var key = base.TrainingKey();
        key["whole_image_fraction"] = WholeImageFraction;
        key["box_fraction"] = BoxFraction;
        if (IncludeCls) key["select_feature"] = "cls_patch";   // absent = "patch", so runs made before it still resume
        return key;
    }
}
