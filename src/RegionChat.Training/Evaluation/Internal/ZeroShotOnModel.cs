using RegionChat.Inference;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using static TorchSharp.torch;

namespace RegionChat.Training.Evaluation.Internal;

/// <summary>
/// Zero-shot region classification of a loaded model folder: the inputs come from the model's own preprocessor (as
/// every served request), the image features from its Alpha-CLIP tower (and from the stage-1 tower the manifest names
/// under eval.clip_vision), the class features from its text tower.
/// </summary>
internal static class ZeroShotOnModel
{
    public const string NoStage1Tower = "no stage-1 tower";
    public const string NoTextTower = "no text tower";

    public static ShapesZeroShotFigures Measure(RegionChatModel model, IReadOnlyList<ShapesScene> scenes, int batch)
    {
        var manifest = model.Manifest;
        if (manifest.TextTower is not { Config: { } textConfig } textTower)
            return new(null, null, null, null, NoTextTower, manifest.TextTower is null ? NoTextTower : "the text tower has no config");

        var regions = scenes.SelectMany((s, i) => s.Objects.Select(o => (Scene: i, Object: o))).ToList();
        int[] truth = regions.Select(r => ZeroShotEvaluator.ClassIndex(r.Object.Size, r.Object.Color, r.Object.Shape)).ToArray();
        int[] sceneOf = regions.Select(r => r.Scene).ToArray();

        using var text = ClipTextTransformer.Load(manifest.Resolve(textTower.Weights, "text_tower.weights"), manifest.Resolve(textConfig, "text_tower.config"));
        using var rawClasses = text.EncodeTexts(ZeroShotEvaluator.ClassPrompts);
        using var classes = nn.functional.normalize(rawClasses, dim: 1);

        PreprocessedImage Whole(int i) => Preprocess(model, scenes[i], null);
        PreprocessedImage Box(int i) => Preprocess(model, scenes[regions[i].Scene], BoxOf(regions[i].Object));
        PreprocessedImage Mask(int i) => Preprocess(model, scenes[regions[i].Scene], MaskOf(regions[i].Object));

        // A whole-image input does not depend on the object: classify each scene once and use it for all its objects.
        ShapesEvalFraction Score(int[] predicted, bool perScene)
        {
            int correct = 0;
            for (int i = 0; i < truth.Length; i++) if ((perScene ? predicted[sceneOf[i]] : predicted[i]) == truth[i]) correct++;
            return new ShapesEvalFraction(correct, truth.Length);
        }

        var alphaWhole = Score(Predict(model.Vision, classes, scenes.Count, Whole, batch), perScene: true);
        var alphaBox = Score(Predict(model.Vision, classes, regions.Count, Box, batch), perScene: false);
        var alphaMask = Score(Predict(model.Vision, classes, regions.Count, Mask, batch), perScene: false);

        ShapesEvalFraction? clipWhole = null;
        string? clipNote = NoStage1Tower;
        if (manifest.Eval?.ClipVision is { } clip)
        {
            var config = clip.Config is { } c ? AlphaClipConfig.FromJsonFile(manifest.Resolve(c, "eval.clip_vision.config")) : null;
            using var stage1 = AlphaClipVisionTransformer.Load(manifest.Resolve(clip.Weights, "eval.clip_vision.weights"), config);
            stage1.eval();
            if (stage1.Config.InputResolution != model.Vision.Config.InputResolution)
                throw new InvalidDataException($"{model.Id}: the stage-1 tower takes {stage1.Config.InputResolution} px but the model's " +
                    $"tower {model.Vision.Config.InputResolution} px");
            clipWhole = Score(Predict(stage1, classes, scenes.Count, Whole, batch), perScene: true);
            clipNote = null;
        }
        return new ShapesZeroShotFigures(clipWhole, alphaWhole, alphaBox, alphaMask, clipNote);
    }

    internal static MaskRegion MaskOf(ShapesObject o) =>
        new(ShapesSpec.CanvasSize, ShapesSpec.CanvasSize, o.VisibleMask.Select(v => v != 0 ? (byte)255 : (byte)0).ToArray());

    internal static BoxRegion BoxOf(ShapesObject o) => new(o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1);

    static PreprocessedImage Preprocess(RegionChatModel model, ShapesScene scene, Region? region)
    {
        using var image = scene.ToImage();
        return model.Preprocess(image, region);
    }

    /// <summary>Top-1 class of each input, built lazily batch by batch.</summary>
    static int[] Predict(AlphaClipVisionTransformer tower, Tensor classes, int count, Func<int, PreprocessedImage> input, int batch)
    {
        if (tower.Config.OutputDim != classes.shape[1])
            throw new InvalidDataException($"the image tower gives {tower.Config.OutputDim}-wide features but the text tower {classes.shape[1]}-wide");
        var predicted = new int[count];
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            var inputs = Enumerable.Range(start, n).Select(input).ToArray();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (pixels, alpha) = inputs.BatchTensors();
            var features = nn.functional.normalize(tower.EncodePooled(pixels, alpha), dim: 1);
            var best = features.matmul(classes.t()).argmax(1).data<long>().ToArray();
            for (int i = 0; i < n; i++) predicted[start + i] = (int)best[i];
        }
        return predicted;
    }
}
