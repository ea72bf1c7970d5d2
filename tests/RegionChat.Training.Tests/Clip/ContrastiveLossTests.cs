using TorchSharp;
using RegionChat.Training.Clip;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Clip;

public class ContrastiveLossTests
{
    static readonly double[][] Images = [[1, 0.2, 0], [0.1, 1, 0.3], [0.5, 0.5, 0.5], [0, 0.3, 1]];
    static readonly double[][] Texts = [[0.9, 0.1, 0.1], [0.2, 0.8, 0.1], [0.1, 0.2, 0.9]];

    [Fact]
    public void Groups_duplicate_captions_in_first_seen_order()
    {
        var (distinct, index) = ContrastiveLoss.Group(["b", "a", "b", "c"]);
        Assert.Equal(new[] { "b", "a", "c" }, distinct);
        Assert.Equal(new long[] { 0, 1, 0, 2 }, index);
    }

    [Fact]
    public void Distinct_captions_give_clip_symmetric_cross_entropy()
    {
        // 3 images, 3 distinct captions, image i ↔ caption i: CLIP's loss, computed here in plain doubles.
        double[][] imgs = [Images[0], Images[1], Images[3]];
        long[] labels = [0, 1, 2];
        double expected = Reference(imgs, Texts, labels, 10);
        var (loss, accuracy) = ContrastiveLoss.Compute(T(imgs), T(Texts), tensor(labels), tensor(10f));
        Assert.Equal(expected, loss.ToDouble(), 5);
        Assert.Equal(1.0, accuracy.ToDouble(), 6);   // each image is closest to its own caption
    }

    [Fact]
    public void Duplicate_captions_count_every_matching_image_as_positive()
    {
        // Images 0 and 2 share caption 0.
        long[] labels = [0, 1, 0, 2];
        double expected = Reference(Images, Texts, labels, 7);
        var (loss, _) = ContrastiveLoss.Compute(T(Images), T(Texts), tensor(labels), tensor(7f));
        Assert.Equal(expected, loss.ToDouble(), 5);
    }

    [Fact]
    public void Negative_only_captions_join_the_image_to_text_softmax_only()
    {
        // Captions 0..2 belong to the batch; rows 3 and 4 are hard negatives without images.
        double[][] texts = [.. Texts, [0.8, 0.3, 0.1], [0.1, 0.9, 0.2]];
        long[] labels = [0, 1, 0, 2];
        double expected = Reference(Images, texts, labels, 7, captionCount: 3);
        var (loss, _) = ContrastiveLoss.Compute(T(Images), T(texts), tensor(labels), tensor(7f), captionCount: 3);
        Assert.Equal(expected, loss.ToDouble(), 5);
        var (withoutNegatives, _) = ContrastiveLoss.Compute(T(Images), T(Texts), tensor(labels), tensor(7f));
        Assert.True(loss.ToDouble() > withoutNegatives.ToDouble());
        Assert.Throws<ArgumentException>(() => ContrastiveLoss.Compute(T(Images), T(texts), tensor(labels), tensor(7f), captionCount: 6));
    }

    [Fact]
    public void Gradient_flows_to_both_sides()
    {
        var img = T(Images).requires_grad_();
        var txt = T(Texts).requires_grad_();
        var (loss, _) = ContrastiveLoss.Compute(img, txt, tensor(new long[] { 0, 1, 0, 2 }), tensor(5f));
        loss.backward();
        Assert.True(img.grad!.abs().sum().ToDouble() > 0);
        Assert.True(txt.grad!.abs().sum().ToDouble() > 0);
    }

    static Tensor T(double[][] rows) => tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), [rows.Length, rows[0].Length]);

    // image→text: mean_i −log softmax_u(s·cos)[label_i]; text→image: mean_u −log(Σ_{i: label_i=u} e^{s·cos} / Σ_i e^{s·cos}).
    static double Reference(double[][] images, double[][] texts, long[] labels, double scale, int? captionCount = null)
    {
        int captions = captionCount ?? texts.Length;
        double[][] ni = images.Select(Normalise).ToArray(), nt = texts.Select(Normalise).ToArray();
        double[,] logits = new double[ni.Length, nt.Length];
        for (int i = 0; i < ni.Length; i++)
            for (int u = 0; u < nt.Length; u++)
                logits[i, u] = scale * ni[i].Zip(nt[u], (a, b) => a * b).Sum();
        double i2t = 0;
        for (int i = 0; i < ni.Length; i++)
        {
            double z = Enumerable.Range(0, nt.Length).Sum(u => Math.Exp(logits[i, u]));
            i2t += -Math.Log(Math.Exp(logits[i, labels[i]]) / z);
        }
        i2t /= ni.Length;
        double t2i = 0;
        for (int u = 0; u < captions; u++)
        {
            double all = Enumerable.Range(0, ni.Length).Sum(i => Math.Exp(logits[i, u]));
            double pos = Enumerable.Range(0, ni.Length).Where(i => labels[i] == u).Sum(i => Math.Exp(logits[i, u]));
            t2i += -Math.Log(pos / all);
        }
        t2i /= captions;
        return (i2t + t2i) / 2;
    }

    static double[] Normalise(double[] v)
    {
        double n = Math.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / n).ToArray();
    }
}
