using TorchSharp;
using System.Text.Json.Nodes;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;
using RegionChat.Vision;

namespace RegionChat.Training.Tests.Clip;

[Collection(TorchStateCollection.Name)]
public class AlphaClipTrainerTests
{
    [Fact]
    public void Alpha_conv_starts_at_zero_learns_at_100x_and_moves_while_the_text_tower_stays_frozen()
    {
        using var stage1 = new TempDir();
        using var stage2 = new TempDir();
        TinyRuns.TrainStage1(stage1.Path);
        using var trainer = new AlphaClipTrainer(stage2.Path, stage1.Path, TinyRuns.Alpha(5));

        Assert.Equal(0.0, TinyRuns.AlphaConv(trainer.Vision).abs().sum().ToDouble());
        var groups = trainer.TrainableParameters;
        Assert.Equal(100.0, groups.Single(p => p.Name == "vision.conv1_alpha.weight").LrMultiplier);
        Assert.All(groups.Where(p => p.Name != "vision.conv1_alpha.weight"), p => Assert.Equal(1.0, p.LrMultiplier));
        Assert.Equal(trainer.Vision.parameters().Count(), groups.Count);     // the whole image tower trains
        Assert.DoesNotContain(groups, p => p.Name.StartsWith("text.", StringComparison.Ordinal));
        Assert.All(trainer.Text.parameters(), p => Assert.False(p.requires_grad));
        // The logit scale defaults to the one stage 1 learned (text.json), fixed.
        double learned = ClipTowerFiles.ReadLogitScale(stage1.Path)!.Value;
        Assert.NotEqual(100, learned, 3);
        Assert.Equal(learned, trainer.CurrentLogitScale);
        using (var forced = new AlphaClipTrainer(Path.Combine(stage2.Path, "forced"), stage1.Path, TinyRuns.Alpha(5) with { LogitScale = 100 }))
            Assert.Equal(100, forced.CurrentLogitScale);

        trainer.Run();

        Assert.True(TinyRuns.AlphaConv(trainer.Vision).abs().sum().ToDouble() > 0, "conv1_alpha did not move");
        TinyRuns.AssertSameTensors(Path.Combine(stage1.Path, ClipTowerFiles.TextWeights), Path.Combine(stage2.Path, ClipTowerFiles.TextWeights));
        using var reloaded = ClipTowerFiles.LoadVision(stage2.Path);
        Assert.True(TinyRuns.AlphaConv(reloaded).equal(TinyRuns.AlphaConv(trainer.Vision)).all().ToBoolean());
    }

    [Fact]
    public void Batch_holds_every_region_of_each_drawn_scene_and_a_tenth_of_whole_images()
    {
        using var stage1 = new TempDir();
        using var stage2 = new TempDir();
        TinyRuns.TrainStage1(stage1.Path, steps: 1);
        var options = TinyRuns.Alpha(1) with { BatchSize = 40, ScenePool = null, BoxFraction = 0.5 };
        using var trainer = new AlphaClipTrainer(stage2.Path, stage1.Path, options);
        var samples = trainer.BatchSamples(3);

        Assert.Equal(40, samples.Count);
        var whole = samples.Where(s => s.Mode == RegionAlphaMode.Whole).ToList();
        Assert.Equal(4, whole.Count);
        Assert.All(whole, s => Assert.Equal(s.Scene.Caption, s.Caption));
        var regions = samples.Where(s => s.Region != null).ToList();
        Assert.All(regions, s => Assert.Equal(s.Region!.Caption, s.Caption));
        var byScene = regions.GroupBy(s => s.Scene.Seed).ToList();
        // All scenes but possibly the last (cut off by the batch size) contribute all their objects.
        foreach (var g in byScene.SkipLast(1)) Assert.Equal(g.First().Scene.Objects.Count, g.Count());
        Assert.Contains(byScene, g => g.Count() >= 2);
        Assert.All(whole, s => Assert.Contains(byScene, g => g.Key == s.Scene.Seed));
        // Box fraction 0.5: both region modes occur.
        Assert.Contains(regions, s => s.Mode == RegionAlphaMode.Box);
        Assert.Contains(regions, s => s.Mode == RegionAlphaMode.Mask);
        Assert.Equal(samples.Select(s => (s.Scene.Seed, s.Region?.Index, s.Mode)), trainer.BatchSamples(3).Select(s => (s.Scene.Seed, s.Region?.Index, s.Mode)));
    }

    [Fact]
    public void Region_loss_falls_on_a_fixed_set_and_evaluation_is_logged()
    {
        using var stage1 = new TempDir();
        using var stage2 = new TempDir();
        TinyRuns.TrainStage1(stage1.Path, steps: 30);   // text features that tell captions apart (the text tower is frozen now)
        using var trainer = new AlphaClipTrainer(stage2.Path, stage1.Path, TinyRuns.Alpha(30) with { EvalScenes = 5 });
        // Batches of 16 regions from the 8 pool scenes; steps 1 and 2 start at different pool offsets.
        double[] before = [trainer.BatchLoss(1), trainer.BatchLoss(2)];
        var result = trainer.Run();
        double[] after = [trainer.BatchLoss(1), trainer.BatchLoss(2)];

        Assert.True(after.Average() < 0.85 * before.Average(), $"loss on fixed batches did not fall enough: {before.Average():F3} → {after.Average():F3}");
        var eval = result.LastEval!;
        Assert.Equal(3, eval.Results.Count);
        Assert.Equal(eval.Regions, eval[RegionAlphaMode.Mask].Regions);
        var logged = File.ReadAllLines(Path.Combine(stage2.Path, "log.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Single(e => (string?)e["type"] == "eval");
        Assert.Equal(30, (int)logged["step"]!);
        Assert.Equal(eval[RegionAlphaMode.Mask].Top1, (double)logged["mask"]!["top1"]!, 5);
    }

    [Fact]
    public void All_sixty_region_captions_enter_the_image_to_text_softmax_by_default()
    {
        using var stage1 = new TempDir();
        using var stage2 = new TempDir();
        TinyRuns.TrainStage1(stage1.Path);
        using var all = new AlphaClipTrainer(Path.Combine(stage2.Path, "all"), stage1.Path, TinyRuns.Alpha(1));
        using var batchOnly = new AlphaClipTrainer(Path.Combine(stage2.Path, "batch"), stage1.Path, TinyRuns.Alpha(1) with { AllRegionCaptions = false });
        // Same weights, same batch: extra negatives can only raise the image→text part of the loss.
        Assert.True(all.BatchLoss(1) > batchOnly.BatchLoss(1));
        Assert.True(TinyRuns.AlphaConv(all.Vision).equal(TinyRuns.AlphaConv(batchOnly.Vision)).all().ToBoolean());
    }

    [Fact]
    public void Resumes_exactly_without_the_stage_1_folder()
    {
        using var stage1 = new TempDir();
        using var straight = new TempDir();
        using var stopped = new TempDir();
        TinyRuns.TrainStage1(stage1.Path);
        var options = TinyRuns.Alpha(4) with { CheckpointEvery = 2, BoxFraction = 0.3 };
        using (var trainer = new AlphaClipTrainer(straight.Path, stage1.Path, options)) trainer.Run();
        using (var trainer = new AlphaClipTrainer(stopped.Path, stage1.Path, options with { StopAtStep = 2 })) trainer.Run();
        using (var trainer = new AlphaClipTrainer(stopped.Path, null, options))
        {
            Assert.Equal(2, trainer.Step);
            trainer.Run();
        }
        TinyRuns.AssertSameTensors(Path.Combine(straight.Path, ClipTowerFiles.VisionWeights), Path.Combine(stopped.Path, ClipTowerFiles.VisionWeights));
    }

    [Fact]
    public void A_new_run_needs_a_stage_1_folder()
    {
        using var empty = new TempDir();
        using var output = new TempDir();
        Assert.Contains("stage-1", Assert.Throws<ArgumentException>(() => new AlphaClipTrainer(output.Path, null, TinyRuns.Alpha(1))).Message);
        Assert.Contains("does not hold", Assert.Throws<ArgumentException>(() => new AlphaClipTrainer(output.Path, empty.Path, TinyRuns.Alpha(1))).Message);
        Assert.Throws<ArgumentException>(() => new AlphaClipTrainer(output.Path, empty.Path, TinyRuns.Alpha(1) with { WholeImageFraction = 1 }));
    }
}
