using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>CLIP's zero-shot scores: logits = exp(logit_scale) × cosine(image features, text features).</summary>
public static class ClipZeroShot
{
    /// <summary>[images, labels] float32 logits of unnormalised features [images, D] and [labels, D].</summary>
    public static Tensor Logits(Tensor imageFeatures, Tensor textFeatures, double scale)
    {
        if (imageFeatures.dim() != 2 || textFeatures.dim() != 2 || imageFeatures.shape[1] != textFeatures.shape[1])
            throw new ArgumentException($"features must be [images, D] and [labels, D], got [{string.Join(", ", imageFeatures.shape)}] and " +
                $"[{string.Join(", ", textFeatures.shape)}]: the towers' output widths differ");
        using var scope = NewDisposeScope();
        var image = Normalize(imageFeatures.to(ScalarType.Float32));
        var text = Normalize(textFeatures.to(ScalarType.Float32));
        using TorchSharp.Scalar factor = scale;   // alive past the native call (see RootedScalars)
        return image.matmul(text.t()).mul_(factor).MoveToOuterDisposeScope();
    }

    /// <summary>Each row divided by its L2 norm (CLIP's <c>x / x.norm(dim=-1, keepdim=True)</c>).</summary>
    public static Tensor Normalize(Tensor features) => features / features.norm(-1, keepdim: true);

    /// <summary>
    /// Prompt ensembling (CLIP's zero-shot recipe): per label, the mean of its templates' normalised text features,
    /// normalised again. <paramref name="features"/> is [labels × templates, D], label-major.
    /// </summary>
    public static Tensor Ensemble(Tensor features, int labels, int templates)
    {
        if (labels < 1 || templates < 1 || features.dim() != 2 || features.shape[0] != (long)labels * templates)
            throw new ArgumentException($"features [{string.Join(", ", features.shape)}] are not {labels} labels × {templates} templates");
        using var scope = NewDisposeScope();
        var mean = Normalize(features.to(ScalarType.Float32)).view(labels, templates, -1).mean([1]);
        return Normalize(mean).MoveToOuterDisposeScope();
    }
}
