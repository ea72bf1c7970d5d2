using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Training.Tests.Clip;

[Collection(TorchStateCollection.Name)]
public class ShapeSiblingTests
{
    [Fact]
    public void A_shape_variant_changes_only_that_objects_shape_and_its_pixels()
    {
        var scene = ShapesGenerator.GenerateMany(100, 50).First(s => s.Objects.Count == 1);
        var o = scene.Objects[0];
        var other = ShapeWords.AllShapes.First(k => k != o.Shape);
        var variant = ShapesGenerator.WithShape(scene, 0, other);
        var v = variant.Objects[0];
        Assert.Equal((o.Color, o.Size, o.Box, other), (v.Color, v.Size, v.Box, v.Shape));
        Assert.Equal(ShapesText.RegionCaption(o.Size, o.Color, other), v.Caption);
        int changed = 0, outside = 0;
        for (int p = 0; p < ShapesSpec.PixelCount; p++)
        {
            bool differs = scene.Pixels[3 * p] != variant.Pixels[3 * p] || scene.Pixels[3 * p + 1] != variant.Pixels[3 * p + 1] || scene.Pixels[3 * p + 2] != variant.Pixels[3 * p + 2];
            if (!differs) continue;
            changed++;
            if (o.ShapeMask[p] == 0 && v.ShapeMask[p] == 0) outside++;
        }
        Assert.True(changed > 0, "the variant paints the same pixels");
        Assert.Equal(0, outside);   // the background and its noise are the source scene's wherever neither shape covers
        // The source shape re-rendered is the source scene itself.
        Assert.Equal(scene.Pixels, ShapesGenerator.WithShape(scene, 0, o.Shape).Pixels);
    }

    [Fact]
    public void Sibling_groups_lead_the_batch_and_differ_only_in_shape()
    {
        using var temp = new TempDir();
        using var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(1) with { ScenePool = null, BatchSize = 16, ShapeSiblingGroups = 2 });
        var batch = trainer.BatchScenes(3);
        Assert.Equal(16, batch.Count);
        int shapes = ShapeWords.AllShapes.Count;
        for (int g = 0; g < 2; g++)
        {
            var group = batch.Skip(g * shapes).Take(shapes).ToList();
            Assert.All(group, s => Assert.Single(s.Objects));
            Assert.Single(group.Select(s => s.Seed).Distinct());
            Assert.Equal(ShapeWords.AllShapes.Order(), group.Select(s => s.Objects[0].Shape).Order());
            Assert.Single(group.Select(s => (s.Objects[0].Color, s.Objects[0].Size, s.Objects[0].Box)).Distinct());
        }
        Assert.Contains("sibling", Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.File("bad"), TinyRuns.Clip(1) with { BatchSize = 8, ShapeSiblingGroups = 2 })).Message);
    }

    [Fact]
    public void Alpha_clip_sibling_groups_show_one_object_with_every_shape()
    {
        using var temp = new TempDir();
        string clip = temp.File("clip");
        TinyRuns.TrainStage1(clip, steps: 1);
        using var trainer = new AlphaClipTrainer(temp.File("alpha"), clip, TinyRuns.Alpha(1) with { ScenePool = null, BatchSize = 16, ShapeSiblingGroups = 1 });
        var group = trainer.BatchSamples(2).Take(ShapeWords.AllShapes.Count).ToList();
        Assert.Single(group.Select(s => s.Scene.Seed).Distinct());
        Assert.Equal(ShapeWords.AllShapes.Order(), group.Select(s => s.Region!.Shape).Order());
        Assert.Equal(group.Select(s => s.Region!.Caption), group.Select(s => s.Caption));
    }
}
