using TorchSharp;
using System.Text.Json.Nodes;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Clip;

[Collection(TorchStateCollection.Name)]
public class ClipTrainerTests
{
    sealed class SimulatedCrash : Exception;

    [Fact]
    public void Overfits_eight_scenes_and_writes_towers_that_reload_with_the_same_outputs()
    {
        using var temp = new TempDir();
        var losses = new List<double>();
        using var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(30));
        var result = trainer.Run(p => losses.Add(p.Loss));

        Assert.True(result.Completed);
        Assert.Equal(30, losses.Count);
        double first = TinyRuns.Mean(losses.Take(3)), last = TinyRuns.Mean(losses.TakeLast(3));
        Assert.True(last < 0.5 * first, $"loss did not fall enough: first steps {first:F3}, last steps {last:F3}");

        using var vision = ClipTowerFiles.LoadVision(temp.Path);
        using var text = ClipTowerFiles.LoadText(temp.Path);
        Assert.Equal(trainer.Vision.Config, AlphaClipConfig.FromJsonFile(Path.Combine(temp.Path, ClipTowerFiles.VisionConfig)));
        var scenes = ShapesGenerator.GenerateMany(0, 4).ToList();
        using var images = ShapesClipInputs.Images(scenes);
        using var alphas = ShapesClipInputs.WholeAlphas(4);
        using var a = trainer.Vision.EncodePooled(images, alphas);
        using var b = vision.EncodePooled(images, alphas);
        Assert.True(a.equal(b).all().ToBoolean());
        var captions = scenes.Select(s => s.Caption).ToList();
        using var ta = trainer.Text.EncodeTexts(captions);
        using var tb = text.EncodeTexts(captions);
        Assert.True(ta.equal(tb).all().ToBoolean());
        Assert.Equal(trainer.CurrentLogitScale, ClipTowerFiles.ReadLogitScale(temp.Path)!.Value, 6);

        var log = File.ReadAllLines(Path.Combine(temp.Path, "log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(Enumerable.Range(1, 30), log.Where(e => (string?)e["type"] == "step").Select(e => (int)e["step"]!));
    }

    [Fact]
    public void Alpha_conv_stays_zero_and_out_of_the_optimizer_in_stage_1()
    {
        using var temp = new TempDir();
        using var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(4));
        Assert.DoesNotContain(trainer.TrainableParameters, p => p.Name.Contains("conv1_alpha"));
        Assert.Contains(trainer.TrainableParameters, p => p.Name == "vision.conv1.weight");
        Assert.Contains(trainer.TrainableParameters, p => p.Name == "text.token_embedding.weight");
        using var conv1Before = trainer.Vision.state_dict()["conv1.weight"].clone();
        trainer.Run();

        Assert.Equal(0.0, TinyRuns.AlphaConv(trainer.Vision).abs().sum().ToDouble());
        Assert.False(trainer.Vision.state_dict()["conv1.weight"].equal(conv1Before).all().ToBoolean(), "the image tower did not train");
        var saved = StateDictFile.ReadSafetensors(Path.Combine(temp.Path, ClipTowerFiles.VisionWeights));
        Assert.Equal(0.0, saved[AlphaClipCheckpoint.AlphaConvKey].abs().sum().ToDouble());
    }

    [Fact]
    public void Logit_scale_is_learned_and_clamped_at_100()
    {
        using var temp = new TempDir();
        using var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(3) with { InitialLogitScale = 99.9, LearningRate = 0.05 });
        trainer.Run();
        Assert.True(trainer.CurrentLogitScale <= 100 + 1e-4, $"logit scale {trainer.CurrentLogitScale} exceeds 100");
        Assert.NotEqual(99.9, trainer.CurrentLogitScale, 3);

        // Whichever way the loss pushes it, a scale above 100 is back at 100 after a step (the options cannot start it
        // there: the parameter is set by hand).
        using var above = new TempDir();
        using var clamped = new ClipTrainer(above.Path, TinyRuns.Clip(1) with { LearningRate = 1e-4 });
        using (TorchSharp.torch.no_grad()) clamped.LogScale.fill_(Math.Log(150));
        clamped.Run();
        Assert.Equal(100, clamped.CurrentLogitScale, 3);
    }

    [Fact]
    public void Resuming_after_a_crash_gives_the_same_weights_as_an_uninterrupted_run()
    {
        using var straight = new TempDir();
        using var crashed = new TempDir();
        var options = TinyRuns.Clip(6) with { CheckpointEvery = 3, WarmupSteps = 2 };
        using (var trainer = new ClipTrainer(straight.Path, options)) trainer.Run();

        using (var trainer = new ClipTrainer(crashed.Path, options))
            Assert.Throws<SimulatedCrash>(() => trainer.Run(p => { if (p.Step == 4) throw new SimulatedCrash(); }));
        TrainingResult resumed;
        using (var trainer = new ClipTrainer(crashed.Path, options))
        {
            Assert.Equal(3, trainer.Step);
            resumed = trainer.Run();
        }

        Assert.Equal(3, resumed.ResumedFrom);
        Assert.Equal(6, resumed.Step);
        TinyRuns.AssertSameTensors(Path.Combine(straight.Path, ClipTowerFiles.VisionWeights), Path.Combine(crashed.Path, ClipTowerFiles.VisionWeights));
        TinyRuns.AssertSameTensors(Path.Combine(straight.Path, ClipTowerFiles.TextWeights), Path.Combine(crashed.Path, ClipTowerFiles.TextWeights));
        // The log holds each step once (step 4 of the crashed invocation was dropped), with the same losses.
        Assert.Equal(StepLosses(straight.Path), StepLosses(crashed.Path));
    }

    [Fact]
    public void Cancelling_checkpoints_the_last_finished_step_and_the_log_carries_each_steps_logit_scale()
    {
        using var temp = new TempDir();
        using var cancel = new CancellationTokenSource();
        var scales = new List<double>();
        TrainingResult stopped;
        using (var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(6) with { CheckpointEvery = 100 }))
            stopped = trainer.Run(p =>
            {
                scales.Add(Math.Round(p.LogitScale, 4));
                if (p.Step == 2) cancel.Cancel();
            }, cancel.Token);

        Assert.False(stopped.Completed);
        Assert.Equal(2, stopped.Step);
        using (var resumed = new ClipTrainer(temp.Path, TinyRuns.Clip(6) with { CheckpointEvery = 100 }))
            Assert.Equal(2, resumed.Step);
        var steps = File.ReadAllLines(Path.Combine(temp.Path, "log.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(e => (string?)e["type"] == "step").ToList();
        Assert.Equal(scales, steps.Select(e => (double)e["logit_scale"]!));
    }

    [Fact]
    public void Bfloat16_run_trains_with_float32_master_weights_and_resumes_exactly()
    {
        using var straight = new TempDir();
        using var stopped = new TempDir();
        var options = TinyRuns.Clip(4) with { Precision = TrainingPrecision.BFloat16, CheckpointEvery = 2 };
        using (var trainer = new ClipTrainer(straight.Path, options))
        {
            Assert.Equal(ScalarType.BFloat16, trainer.Vision.DType);
            trainer.Run();
        }
        using (var trainer = new ClipTrainer(stopped.Path, options with { StopAtStep = 2 }))
            Assert.False(trainer.Run().Completed);
        using (var trainer = new ClipTrainer(stopped.Path, options)) trainer.Run();
        var saved = StateDictFile.ReadSafetensors(Path.Combine(straight.Path, ClipTowerFiles.VisionWeights));
        Assert.All(saved.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        TinyRuns.AssertSameTensors(Path.Combine(straight.Path, ClipTowerFiles.VisionWeights), Path.Combine(stopped.Path, ClipTowerFiles.VisionWeights));
    }

    [Fact]
    public void Resuming_with_other_settings_is_refused()
    {
        using var temp = new TempDir();
        using (var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(2))) trainer.Run();
        var e = Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { LearningRate = 1e-3 }));
        Assert.Contains("learning_rate", e.Message);
        // Threads, cadence and the stop step may change.
        using var again = new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { Threads = 2, CheckpointEvery = 7, EvalEvery = 3 });
        Assert.Equal(2, again.Step);
    }

    [Fact]
    public void Bad_options_are_rejected_with_the_value_named()
    {
        using var temp = new TempDir();
        Assert.Contains("batch size 1", Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { BatchSize = 1 })).Message);
        Assert.Contains("scene pool", Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { ScenePool = 2_000_000_000 })).Message);
        Assert.Contains("output_dim", Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { Vision = new AlphaClipConfig(64, 16, 32, 1, 2, 16) })).Message);
        Assert.Contains("resolution", Assert.Throws<ArgumentException>(() => new ClipTrainer(temp.Path, TinyRuns.Clip(2) with { Vision = new AlphaClipConfig(32, 16, 32, 1, 2, 32) })).Message);
    }

    [Fact]
    public void Batches_are_a_pure_function_of_seed_and_step_within_the_train_split()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var options = TinyRuns.Clip(2) with { ScenePool = null, BatchSize = 32 };
        using var one = new ClipTrainer(a.Path, options);
        using var two = new ClipTrainer(b.Path, options);
        var seeds = one.BatchScenes(5).Select(s => s.Seed).ToList();
        Assert.Equal(seeds, two.BatchScenes(5).Select(s => s.Seed));
        Assert.NotEqual(seeds, one.BatchScenes(6).Select(s => s.Seed));
        Assert.All(seeds, s => Assert.Equal(ShapesSplit.Train, ShapesSeeds.SplitOf(s)));
        Assert.True(seeds.Distinct().Count() >= 31);
    }

    [Fact]
    public void Batches_hold_the_requested_share_of_single_object_scenes()
    {
        using var temp = new TempDir();
        using var half = new ClipTrainer(temp.Path, TinyRuns.Clip(1) with { ScenePool = null, BatchSize = 40, SingleObjectFraction = 0.5 });
        var scenes = half.BatchScenes(2);
        Assert.Equal(40, scenes.Count);
        Assert.True(scenes.Count(s => s.Objects.Count == 1) >= 20);
        Assert.True(scenes.Count(s => s.Objects.Count > 1) >= 10, "the rest should keep the natural mix (¾ multi-object)");
        Assert.Equal(40, scenes.Select(s => s.Seed).Distinct().Count());
        Assert.Equal(scenes.Select(s => s.Seed), half.BatchScenes(2).Select(s => s.Seed));

        using var all = new ClipTrainer(temp.File("all"), TinyRuns.Clip(1) with { ScenePool = null, BatchSize = 12, SingleObjectFraction = 1 });
        Assert.All(all.BatchScenes(1), s => Assert.Single(s.Objects));
        // A pool without enough single-object scenes still fills the batch.
        using var pooled = new ClipTrainer(temp.File("pool"), TinyRuns.Clip(1) with { ScenePool = 3, BatchSize = 6, SingleObjectFraction = 1 });
        Assert.Equal(6, pooled.BatchScenes(1).Count);
    }

    [Fact]
    public void Hard_negatives_change_one_attribute_of_one_object()
    {
        using var temp = new TempDir();
        using var trainer = new ClipTrainer(temp.Path, TinyRuns.Clip(1) with { ScenePool = null, BatchSize = 48, HardNegatives = 2 });
        var scenes = trainer.BatchScenes(4);
        var negatives = trainer.HardNegativeCaptions(4, scenes);
        var positives = scenes.Select(s => s.Caption).ToHashSet();
        Assert.InRange(negatives.Count, 80, 96);                 // 2 per scene, minus the few that hit a batch caption
        Assert.Equal(negatives.Count, negatives.Distinct().Count());
        Assert.Equal(negatives, trainer.HardNegativeCaptions(4, scenes));
        int shapeChanges = 0, colorChanges = 0, sizeChanges = 0;
        foreach (string negative in negatives)
        {
            Assert.DoesNotContain(negative, positives);
            trainer.Tokenizer.Encode(negative);                   // in the vocabulary and the context
            // A scene's caption differs from it in exactly one word, which is a shape, colour or size word.
            var words = negative.Split(' ');
            var source = scenes.First(s => s.Caption.Split(' ') is var w && w.Length == words.Length && w.Zip(words).Count(p => p.First != p.Second) == 1);
            var (from, to) = source.Caption.Split(' ').Zip(words).Single(p => p.First != p.Second);
            if (ShapeWords.AllShapes.Any(k => k.Word() == from)) { Assert.Contains(ShapeWords.AllShapes, k => k.Word() == to); shapeChanges++; }
            else if (ShapeWords.AllColors.Any(c => c.Word() == from)) { Assert.Contains(ShapeWords.AllColors, c => c.Word() == to); colorChanges++; }
            else { Assert.Contains(from, new[] { "small", "large" }); Assert.Contains(to, new[] { "small", "large" }); sizeChanges++; }
        }
        Assert.All(new[] { shapeChanges, colorChanges, sizeChanges }, n => Assert.True(n >= 15, $"attribute changes {shapeChanges}/{colorChanges}/{sizeChanges} are not roughly uniform"));
    }

    static List<double> StepLosses(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "log.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(e => (string?)e["type"] == "step").Select(e => (double)e["loss"]!).ToList();
}
