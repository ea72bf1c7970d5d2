using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// CLIP's symmetric InfoNCE with duplicate captions merged: the text side holds each distinct caption once, and every
/// image whose caption it is counts as a positive for it. With all captions distinct this is exactly CLIP's loss;
/// with duplicates (two "a large red circle" regions in a batch) no true pair is pushed apart as a negative.
/// Extra negative-only captions (hard negatives, NegCLIP-style) may follow the batch's captions on the text side: they
/// enter the image→text softmax only.
/// </summary>
public static class ContrastiveLoss
{
    // Static roots: a temporary Scalar can be finalised mid-call (RegionChat.Vision.RootedScalars says why).
    static readonly TorchSharp.Scalar MinusInfinity = double.NegativeInfinity, Half = 0.5;

    /// <summary>Groups captions: the distinct captions in first-seen order and, per item, the index of its caption.</summary>
    public static (IReadOnlyList<string> Distinct, long[] CaptionIndex) Group(IReadOnlyList<string> captions)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var distinct = new List<string>();
        var of = new long[captions.Count];
        for (int i = 0; i < captions.Count; i++)
        {
            if (!index.TryGetValue(captions[i], out int k))
            {
                k = distinct.Count;
                index[captions[i]] = k;
                distinct.Add(captions[i]);
            }
            of[i] = k;
        }
        return (distinct, of);
    }

    /// <summary>
    /// Loss and image→text top-1 accuracy for image features [B, D], caption features [U + N, D] (the U distinct captions
    /// of the batch, then N negative-only captions) and each image's caption index [B] (int64 in 0..U−1). Features are
    /// L2-normalised here; logits = scale · cosine.
    /// image→text: cross-entropy over all U + N captions (one positive each).
    /// text→image: per batch caption −log(Σ_positives softmax), the multi-positive form of InfoNCE. The result is their mean.
    /// </summary>
    /// <param name="captionCount">U; null: every text row is a batch caption (no negatives-only rows).</param>
    public static (Tensor Loss, Tensor Accuracy) Compute(Tensor imageFeatures, Tensor textFeatures, Tensor captionIndex, Tensor logitScale,
        long? captionCount = null)
    {
        long b = imageFeatures.shape[0], u = captionCount ?? textFeatures.shape[0];
        if (captionIndex.shape.Length != 1 || captionIndex.shape[0] != b)
            throw new ArgumentException($"captionIndex must be [{b}], got [{string.Join(", ", captionIndex.shape)}]");
        if (u < 1 || u > textFeatures.shape[0])
            throw new ArgumentException($"caption count {u} must be in 1..{textFeatures.shape[0]} (the text rows)");
        using var scope = NewDisposeScope();
        var img = nn.functional.normalize(imageFeatures.to(ScalarType.Float32), dim: 1);
        var txt = nn.functional.normalize(textFeatures.to(ScalarType.Float32), dim: 1);
        var logits = img.matmul(txt.t()).mul(logitScale);                            // [B, U + N]
        var imageToText = nn.functional.cross_entropy(logits, captionIndex);
        var positives = captionIndex.view(1, b).eq(arange(u, dtype: ScalarType.Int64).view(u, 1));   // [U, B]
        var perText = logits[.., ..(int)u].t();                                       // [U, B]: batch captions only
        var all = perText.logsumexp(1, false);
        var positive = perText.masked_fill(positives.logical_not(), MinusInfinity).logsumexp(1, false);
        var textToImage = all.sub(positive).mean();
        var loss = imageToText.Plus(textToImage).mul(Half);
        var accuracy = logits.argmax(1).eq(captionIndex).to(ScalarType.Float32).mean();
        return (loss.MoveToOuterDisposeScope(), accuracy.detach().MoveToOuterDisposeScope());
    }
}
