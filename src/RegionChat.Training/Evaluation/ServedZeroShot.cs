using RegionChat.Data.Shapes;
using RegionChat.Inference;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation.Internal;

namespace RegionChat.Training.Evaluation;

/// <summary>
/// Zero-shot region classification of shapes scenes through the served path: <see cref="RegionChatCore.ClassifyAsync"/>
/// with the 60 region captions as labels (the model's classifier, as gRPC Classify and POST /v1/classify run it), one
/// call per scene and alpha mode (its objects' masks, their boxes, the whole image). Plain CLIP on the whole image (the
/// stage-1 tower named by eval.clip_vision, which no request can reach) is measured on the towers as the baseline.
/// </summary>
public static class ServedZeroShot
{
    public static async Task<ShapesZeroShotFigures> MeasureAsync(RegionChatCore core, IReadOnlyList<ShapesScene> scenes, int batch = 32,
        CancellationToken ct = default)
    {
        var labels = ZeroShotEvaluator.ClassPrompts;
        int mask = 0, box = 0, whole = 0, total = 0;
        foreach (var scene in scenes)
        {
            byte[] png;
            using (var image = scene.ToImage())
            using (var stream = new MemoryStream())
            {
                await SixLabors.ImageSharp.ImageExtensions.SaveAsPngAsync(image, stream, ct).ConfigureAwait(false);
                png = stream.ToArray();
            }
            var input = ImageInput.FromBytes(png);
            string[] truth = scene.Objects.Select(o => ShapesText.RegionCaption(o.Size, o.Color, o.Shape)).ToArray();
            var byMask = await Top1Async(scene.Objects.Select((o, i) => RegionSource.Of(ZeroShotOnModel.MaskOf(o), $"mask:{i}")).ToArray());
            var byBox = await Top1Async(scene.Objects.Select((o, i) => RegionSource.Of(ZeroShotOnModel.BoxOf(o), $"box:{i}")).ToArray());
            string byWhole = (await Top1Async([]))[0];
            for (int i = 0; i < truth.Length; i++)
            {
                if (byMask[i] == truth[i]) mask++;
                if (byBox[i] == truth[i]) box++;
                if (byWhole == truth[i]) whole++;   // one answer per scene: at most one of its objects can match
                total++;
            }

            async Task<string[]> Top1Async(RegionSource[] regions)
            {
                var result = await core.ClassifyAsync(new ClassifyRequest { Image = input, Regions = regions, Labels = labels, Top = 1 }, ct)
                    .ConfigureAwait(false);
                return result.Regions.Select(r => r.Labels[0].Label).ToArray();
            }
        }
        // The baseline: the model's towers directly, as `eval shapes` measures it (same prompts, same preprocessing).
        var model = core.Model() ?? throw new InvalidOperationException("the core serves no default model");
        var towers = ZeroShotOnModel.Measure(model, scenes, batch);
        return new ShapesZeroShotFigures(towers.ClipWhole, new(whole, total), new(box, total), new(mask, total), towers.ClipNote);
    }
}
