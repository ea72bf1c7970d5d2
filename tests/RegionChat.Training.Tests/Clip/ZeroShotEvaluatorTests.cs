using TorchSharp;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Clip;

[Collection(TorchStateCollection.Name)]
public class ZeroShotEvaluatorTests
{
    [Fact]
    public void Sixty_distinct_prompts_with_a_reversible_class_index()
    {
        Assert.Equal(60, ZeroShotEvaluator.ClassPrompts.Distinct().Count());
        foreach (var size in ShapeWords.AllSizes)
            foreach (var color in ShapeWords.AllColors)
                foreach (var shape in ShapeWords.AllShapes)
                {
                    int i = ZeroShotEvaluator.ClassIndex(size, color, shape);
                    Assert.Equal(ShapesText.RegionCaption(size, color, shape), ZeroShotEvaluator.ClassPrompts[i]);
                    Assert.Equal((size, color, shape), ZeroShotEvaluator.ClassOf(i));
                }
    }

    /// <summary>
    /// An image encoder that reads its inputs exactly: it finds the scene by its pixels and the region by its alpha, and
    /// answers the region's class (mask or box alpha) or, for an all-ones alpha, the class of the scene's largest visible
    /// object. The evaluator must then score mask and box perfectly and "whole" as often as the region is that object.
    /// </summary>
    [Fact]
    public void Scores_an_encoder_that_reads_the_alpha_exactly()
    {
        const int sceneCount = 30;
        long first = ShapesSeeds.TestStart + 123;
        var scenes = ShapesGenerator.GenerateMany(first, sceneCount).ToList();
        var sceneImages = scenes.Select(s => { var f = new float[3 * 64 * 64]; ShapesClipInputs.WriteImage(s, f); return f; }).ToList();
        var calls = 0;

        Tensor Oracle(Tensor images, Tensor alphas)
        {
            calls++;
            int n = (int)images.shape[0];
            var features = new float[n * 60];
            var img = images.contiguous().data<float>().ToArray();
            var alp = alphas.contiguous().data<float>().ToArray();
            for (int i = 0; i < n; i++)
            {
                var pixels = img[(i * 3 * 4096)..((i + 1) * 3 * 4096)];
                int s = sceneImages.FindIndex(f => pixels.AsSpan().SequenceEqual(f));
                Assert.True(s >= 0, "image is not a scene's normalised pixels");
                var alpha = alp.AsSpan(i * 4096, 4096);
                ShapesObject region = Find(scenes[s], alpha);
                features[i * 60 + ZeroShotEvaluator.ClassIndex(region.Size, region.Color, region.Shape)] = 1;
            }
            return tensor(features, [n, 60]);
        }

        using var evaluator = new ZeroShotEvaluator(Oracle, eye(60), batchSize: 7);
        var report = evaluator.Evaluate(first, sceneCount, [RegionAlphaMode.Whole, RegionAlphaMode.Box, RegionAlphaMode.Mask]);

        int regions = scenes.Sum(s => s.Objects.Count);
        Assert.Equal(regions, report.Regions);
        Assert.Equal(1.0, report[RegionAlphaMode.Mask].Top1);
        Assert.Equal(1.0, report[RegionAlphaMode.Box].Top1);
        var dominant = scenes.SelectMany(s => s.Objects.Select(o => (o, d: Dominant(s)))).ToList();
        Assert.Equal(dominant.Count(p => (p.o.Size, p.o.Color, p.o.Shape) == (p.d.Size, p.d.Color, p.d.Shape)), report[RegionAlphaMode.Whole].Correct);
        Assert.Equal(dominant.Count(p => p.o.Color == p.d.Color), report[RegionAlphaMode.Whole].ColorCorrect);
        Assert.Equal(dominant.Count(p => p.o.Size == p.d.Size), report[RegionAlphaMode.Whole].SizeCorrect);
        Assert.True(report[RegionAlphaMode.Whole].Top1 < 0.9, "these scenes should hold several objects each on average");
        Assert.Equal(new PromptSimilarity(0, 0, 0, 0), report.Prompts);   // one-hot prompt features are orthogonal
        // Whole image: one encoding per scene; box and mask: one per region (batches of 7).
        Assert.Equal((sceneCount + 6) / 7 + 2 * ((regions + 6) / 7), calls);
    }

    [Fact]
    public void Runs_a_real_model_pair_end_to_end()
    {
        manual_seed(11);
        using var vision = new AlphaClipVisionTransformer(new AlphaClipConfig(64, 16, 32, 1, 2, 24));
        using var text = new ClipTextTransformer(ClipTextConfig.ForShapes(32, 1, 2, 24), ClipTokenizer.ForShapes());
        using var evaluator = ZeroShotEvaluator.Create(vision, text);
        var report = evaluator.Evaluate(ShapesSeeds.TestStart, 6, [RegionAlphaMode.Mask]);
        Assert.Equal(ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, 6).Sum(s => s.Objects.Count), report.Regions);
        Assert.InRange(report[RegionAlphaMode.Mask].Top1, 0, 1);
        Assert.Throws<KeyNotFoundException>(() => report[RegionAlphaMode.Box]);
        Assert.Throws<ArgumentException>(() => new ZeroShotEvaluator((i, a) => i, zeros(59, 4)));
    }

    [Fact]
    public void Prompt_similarity_groups_pairs_by_the_attribute_they_differ_in()
    {
        // Features: a size axis, a colour axis and a shape axis; cos between prompts follows from the axes they share.
        var rows = new float[60 * 3];
        for (int i = 0; i < 60; i++)
        {
            var (size, color, shape) = ZeroShotEvaluator.ClassOf(i);
            rows[3 * i] = (int)size;
            rows[3 * i + 1] = (int)color + 1;
            rows[3 * i + 2] = shape == ShapeKind.Circle ? 1 : 0;
        }
        using var evaluator = new ZeroShotEvaluator((i, a) => i, tensor(rows, [60, 3]));
        var p = evaluator.PromptSimilarity();
        // Shape-only pairs: equal unless one is a circle; colour-only: (s, c1, k)·(s, c2, k) over norms; check by brute force.
        double Cos(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(x => (double)x * x));
        var vectors = Enumerable.Range(0, 60).Select(i => rows[(3 * i)..(3 * i + 3)]).ToArray();
        var shapeOnly = new List<double>();
        for (int i = 0; i < 60; i++)
            for (int j = i + 1; j < 60; j++)
            {
                var (a, b) = (ZeroShotEvaluator.ClassOf(i), ZeroShotEvaluator.ClassOf(j));
                if (a.Size == b.Size && a.Color == b.Color && a.Shape != b.Shape) shapeOnly.Add(Cos(vectors[i], vectors[j]));
            }
        Assert.Equal(120, shapeOnly.Count);
        Assert.Equal(shapeOnly.Average(), p.ShapeOnly, 5);
        Assert.Equal(1.0, p.Max, 5);                 // two non-circle shapes of the same size and colour coincide
        Assert.True(p.ColorOnly < 1 && p.SizeOnly < 1);
    }

    static ShapesObject Dominant(ShapesScene s) => s.Objects.OrderByDescending(o => o.VisibleArea).ThenBy(o => o.Index).First();

    static ShapesObject Find(ShapesScene scene, ReadOnlySpan<float> alpha)
    {
        bool all = true;
        foreach (float a in alpha) all &= a == ShapesClipInputs.Foreground;
        if (all) return Dominant(scene);
        foreach (var o in scene.Objects)
        {
            bool mask = true, box = true;
            for (int p = 0; p < 4096; p++)
            {
                bool fg = alpha[p] == ShapesClipInputs.Foreground;
                Assert.True(fg || alpha[p] == ShapesClipInputs.Background, "alpha value is neither foreground nor background");
                int x = p % 64, y = p / 64;
                mask &= fg == (o.VisibleMask[p] == 1);
                box &= fg == (x >= o.Box.X0 && x < o.Box.X1 && y >= o.Box.Y0 && y < o.Box.Y1);
            }
            if (mask || box) return o;
        }
        throw new Xunit.Sdk.XunitException("alpha matches no object's mask or box");
    }
}
