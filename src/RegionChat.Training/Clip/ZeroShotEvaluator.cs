using RegionChat.Data.Shapes;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// Zero-shot region classification: every object of every scene is shown to the image tower (whole image, box or mask
/// alpha) and classified as the prompt "a {size} {color} {shape}" (60 classes) with the highest cosine similarity.
/// </summary>
public sealed class ZeroShotEvaluator : IDisposable
{
    readonly Func<Tensor, Tensor, Tensor> encodeImages;
    readonly Tensor classFeatures;   // [60, D], L2-normalised
    readonly int batchSize;

    /// <summary>The 60 prompts; index = (size · 6 + colour) · 5 + shape, in the enums' order.</summary>
    public static IReadOnlyList<string> ClassPrompts { get; } =
        (from size in ShapeWords.AllSizes
         from color in ShapeWords.AllColors
         from shape in ShapeWords.AllShapes
         select ShapesText.RegionCaption(size, color, shape)).ToArray();

    public static int ClassIndex(ShapeSize size, ShapeColor color, ShapeKind shape) =>
        ((int)size * ShapeWords.AllColors.Count + (int)color) * ShapeWords.AllShapes.Count + (int)shape;

    public static (ShapeSize Size, ShapeColor Color, ShapeKind Shape) ClassOf(int index)
    {
        if (index < 0 || index >= ClassPrompts.Count) throw new ArgumentOutOfRangeException(nameof(index), index,
            $"class index must be in 0..{ClassPrompts.Count - 1}");
        int shapes = ShapeWords.AllShapes.Count, colors = ShapeWords.AllColors.Count;
        return ((ShapeSize)(index / (shapes * colors)), (ShapeColor)(index / shapes % colors), (ShapeKind)(index % shapes));
    }

    /// <param name="encodeImages">(images [N,3,64,64], alphas [N,1,64,64], both float32 and normalised) → features [N, D].</param>
    /// <param name="classFeatures">Features of <see cref="ClassPrompts"/> in that order: [60, D].</param>
    /// <param name="batchSize">Images per call of <paramref name="encodeImages"/>.</param>
    public ZeroShotEvaluator(Func<Tensor, Tensor, Tensor> encodeImages, Tensor classFeatures, int batchSize = 128)
    {
        ArgumentNullException.ThrowIfNull(encodeImages);
        if (classFeatures.dim() != 2 || classFeatures.shape[0] != ClassPrompts.Count)
            throw new ArgumentException($"class features must be [{ClassPrompts.Count}, D], got [{string.Join(", ", classFeatures.shape)}]");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        this.encodeImages = encodeImages;
        this.classFeatures = nn.functional.normalize(classFeatures.detach().to(ScalarType.Float32), dim: 1);
        this.batchSize = batchSize;
    }

    /// <summary>The Alpha-CLIP image tower against the text tower's features of the 60 prompts.</summary>
    public static ZeroShotEvaluator Create(AlphaClipVisionTransformer vision, ClipTextTransformer text, int batchSize = 128)
    {
        using var features = text.EncodeTexts(ClassPrompts);
        return new ZeroShotEvaluator(vision.EncodePooled, features, batchSize);
    }

    /// <summary>Classifies every object of the scenes firstSeed .. firstSeed+sceneCount−1 once per mode.</summary>
    public ZeroShotReport Evaluate(long firstSeed, int sceneCount, IReadOnlyList<RegionAlphaMode> modes)
    {
        if (sceneCount < 1) throw new ArgumentOutOfRangeException(nameof(sceneCount), sceneCount, "evaluate at least one scene");
        if (modes.Count == 0 || modes.Distinct().Count() != modes.Count) throw new ArgumentException("give each alpha mode at most once, and at least one");
        var scenes = ShapesGenerator.GenerateMany(firstSeed, sceneCount).ToList();
        var regions = scenes.SelectMany(s => s.Objects.Select(o => (Scene: s, Object: o))).ToList();
        var results = new List<ZeroShotModeResult>();
        foreach (var mode in modes)
        {
            int[] predicted = mode == RegionAlphaMode.Whole
                ? PredictWhole(scenes, regions)
                : Predict(regions.Select(r => r.Scene).ToList(), regions.Select(r => (ShapesObject?)r.Object).ToList(), mode);
            int correct = 0, size = 0, color = 0, shape = 0;
            for (int i = 0; i < regions.Count; i++)
            {
                var o = regions[i].Object;
                var p = ClassOf(predicted[i]);
                if (p.Size == o.Size) size++;
                if (p.Color == o.Color) color++;
                if (p.Shape == o.Shape) shape++;
                if (p.Size == o.Size && p.Color == o.Color && p.Shape == o.Shape) correct++;
            }
            results.Add(new ZeroShotModeResult(mode, regions.Count, correct, size, color, shape));
        }
        return new ZeroShotReport(firstSeed, sceneCount, regions.Count, results, PromptSimilarity());
    }

    public void Dispose() => classFeatures.Dispose();

    /// <summary>Mean cosine of prompt pairs that differ in one attribute only, and the largest cosine of two different prompts.</summary>
    public PromptSimilarity PromptSimilarity()
    {
        using var scope = NewDisposeScope();
        var cosines = classFeatures.matmul(classFeatures.t()).data<float>().ToArray();
        int n = ClassPrompts.Count;
        double max = double.NegativeInfinity;
        var sums = new double[3];
        var counts = new int[3];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double c = cosines[i * n + j];
                max = Math.Max(max, c);
                var (a, b) = (ClassOf(i), ClassOf(j));
                int which = (a.Size != b.Size, a.Color != b.Color, a.Shape != b.Shape) switch
                {
                    (true, false, false) => 0,
                    (false, true, false) => 1,
                    (false, false, true) => 2,
                    _ => -1,
                };
                if (which < 0) continue;
                sums[which] += c;
                counts[which]++;
            }
        return new PromptSimilarity(sums[0] / counts[0], sums[1] / counts[1], sums[2] / counts[2], max);
    }

    // The whole-image alpha does not depend on the region: encode each scene once, classify each of its objects by it.
    int[] PredictWhole(List<ShapesScene> scenes, List<(ShapesScene Scene, ShapesObject Object)> regions)
    {
        var perScene = Predict(scenes, scenes.Select(_ => (ShapesObject?)null).ToList(), RegionAlphaMode.Whole);
        var index = scenes.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
        return regions.Select(r => perScene[index[r.Scene]]).ToArray();
    }

    int[] Predict(List<ShapesScene> scenes, List<ShapesObject?> regions, RegionAlphaMode mode)
    {
        var predicted = new int[scenes.Count];
        for (int start = 0; start < scenes.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, scenes.Count - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var images = ShapesClipInputs.Images(scenes.GetRange(start, n));
            var alphas = ShapesClipInputs.Alphas(regions.GetRange(start, n), Enumerable.Repeat(mode, n).ToArray());
            var features = encodeImages(images, alphas);
            if (features.dim() != 2 || features.shape[0] != n || features.shape[1] != classFeatures.shape[1])
                throw new InvalidOperationException($"image encoder returned [{string.Join(", ", features.shape)}], expected [{n}, {classFeatures.shape[1]}]");
            var best = nn.functional.normalize(features.to(ScalarType.Float32), dim: 1).matmul(classFeatures.t()).argmax(1);
            var values = best.data<long>().ToArray();
            for (int i = 0; i < n; i++) predicted[start + i] = (int)values[i];
        }
        return predicted;
    }
}
