using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using RegionChat.Vision.Regions;

namespace RegionChat.Inference.Tests;

/// <summary>A core on the committed models/shapes-tiny, for zero-shot classification.</summary>
public sealed class ShapesCoreFixture : IDisposable
{
    public RegionChatCore Core { get; } = RegionChatCore.ForModelFolder(Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny"),
        new RegionChatCoreOptions { Threads = 1, ParallelSequences = 2, ContextSize = 1024 });

    public void Dispose() => Core.Dispose();
}

/// <summary><see cref="RegionChatCore.ClassifyAsync"/> on shapes-tiny's classifier (the 60 region captions as labels).</summary>
public class ClassifyTests(ShapesCoreFixture fixture) : IClassFixture<ShapesCoreFixture>
{
    static readonly string[] Captions =
        (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
         select ShapesText.RegionCaption(size, color, shape)).ToArray();

    static RegionSource MaskOf(ShapesObject o, int i) =>
        RegionSource.Of(new MaskRegion(ShapesSpec.CanvasSize, ShapesSpec.CanvasSize, o.VisibleMask.Select(v => v != 0 ? (byte)255 : (byte)0).ToArray()),
            $"mask:{i}");

    static byte[] Png(ShapesScene scene)
    {
        using var image = scene.ToImage();
        using var stream = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, stream);
        return stream.ToArray();
    }

    [Fact]
    public async Task Masked_objects_of_unseen_scenes_get_their_caption_first()
    {
        int correct = 0, total = 0;
        for (long seed = ShapesSeeds.TestStart; seed < ShapesSeeds.TestStart + 20; seed++)
        {
            var scene = ShapesGenerator.Generate(seed);
            var result = await fixture.Core.ClassifyAsync(new ClassifyRequest
            {
                Image = ImageInput.FromBytes(Png(scene)),
                Regions = scene.Objects.Select(MaskOf).ToArray(),
                Labels = Captions,
                Top = 3,
            });
            Assert.Equal("shapes-tiny", result.Model);
            Assert.Equal(scene.Objects.Count, result.Regions.Count);
            for (int i = 0; i < scene.Objects.Count; i++)
            {
                var ranked = result.Regions[i].Labels;
                Assert.Equal(3, ranked.Count);
                Assert.True(ranked[0].Logit >= ranked[1].Logit && ranked[1].Logit >= ranked[2].Logit);
                Assert.InRange(ranked[0].Probability, 0, 1);
                var o = scene.Objects[i];
                if (ranked[0].Label == ShapesText.RegionCaption(o.Size, o.Color, o.Shape)) correct++;
                total++;
            }
        }
        Assert.True(correct >= 0.9 * total, $"top-1 {correct}/{total}");
    }

    [Fact]
    public async Task Probabilities_sum_to_one_and_label_features_are_cached()
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 100);
        var request = new ClassifyRequest { Image = ImageInput.FromBytes(Png(scene)), Labels = ["a large red circle", "a small blue cross", "a large green square"] };
        var first = await fixture.Core.ClassifyAsync(request);
        var again = await fixture.Core.ClassifyAsync(request);
        Assert.Single(first.Regions);
        Assert.Equal(1.0, first.Regions[0].Labels.Sum(l => l.Probability), 6);
        Assert.Equal(3, again.Timings.TextCacheHits);
        Assert.Equal(first.Regions[0].Labels, again.Regions[0].Labels);
    }

    [Fact]
    public async Task Bad_requests_name_the_field_before_any_work()
    {
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart);
        var image = ImageInput.FromBytes(Png(scene));
        async Task<RegionChatCoreException> Refused(ClassifyRequest r) => await Assert.ThrowsAsync<RegionChatCoreException>(() => fixture.Core.ClassifyAsync(r));

        var none = await Refused(new ClassifyRequest { Image = image, Labels = [] });
        Assert.Equal(RegionChatErrorKind.InvalidArgument, none.Kind);
        Assert.Equal("labels", none.Violations[0].Field);

        var many = await Refused(new ClassifyRequest { Image = image, Labels = Enumerable.Range(0, 1001).Select(i => $"label {i}").ToArray() });
        Assert.Contains("the limit is 1000", many.Violations[0].Description);

        var empty = await Refused(new ClassifyRequest { Image = image, Labels = ["a large red circle", " "] });
        Assert.Equal("labels[1]", empty.Violations[0].Field);

        var twice = await Refused(new ClassifyRequest { Image = image, Labels = ["a large red circle", "a large red circle"] });
        Assert.Equal("labels[1]", twice.Violations[0].Field);

        var unknownWord = await Refused(new ClassifyRequest { Image = image, Labels = ["a large red circle", "a pink elephant"] });
        Assert.Equal("labels[1]", unknownWord.Violations[0].Field);
        Assert.Contains("'pink'", unknownWord.Violations[0].Description);

        var badRegion = await Refused(new ClassifyRequest
        {
            Image = image, Labels = ["a large red circle"],
            Regions = [RegionSource.WholeImage, RegionSource.Of(new MaskRegion(32, 32, new byte[32 * 32]), "small-mask")],
        });
        Assert.StartsWith("regions[1]", badRegion.Violations[0].Field);

        var model = await Refused(new ClassifyRequest { Model = "nope", Image = image, Labels = ["a large red circle"] });
        Assert.Equal(RegionChatErrorKind.NotFound, model.Kind);
    }

    [Fact]
    public async Task A_model_without_a_classifier_is_a_failed_precondition_naming_the_model_field()
    {
        using var temp = new TempDir();
        string dir = TinyModel.Write(temp.File("tiny"));
        using var core = RegionChatCore.ForModelFolder(dir, new RegionChatCoreOptions { Threads = 1, ParallelSequences = 2, ContextSize = 1024 });
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart);
        var e = await Assert.ThrowsAsync<RegionChatCoreException>(() => core.ClassifyAsync(new ClassifyRequest
        {
            Image = ImageInput.FromBytes(Png(scene)), Labels = ["a large red circle"],
        }));
        Assert.Equal(RegionChatErrorKind.FailedPrecondition, e.Kind);
        Assert.Equal("model", e.Violations[0].Field);
        Assert.Contains("no zero-shot classifier", e.Message);
    }
}
