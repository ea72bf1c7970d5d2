using System.Text.Json.Nodes;
using RegionChat.Inference;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation;
using RegionChat.Training.Llava;
using RegionChat.Data.Metrics;
using RegionChat.Data.Shapes;
using RegionChat.Training.Tests.Clip;
using RegionChat.Training.Tests.Pipeline;
using RegionChat.Vision;

namespace RegionChat.Training.Tests.Evaluation;

/// <summary>`eval shapes` on the model a smoke run of every stage exports (stage-1 tower included).</summary>
[Collection(TorchStateCollection.Name)]
public class EvalShapesOnSmokeModelTests(SmokeRun run) : IClassFixture<SmokeRun>
{
    const int SceneCount = 3;

    [Fact]
    public void TheExportCarriesTheStage1TowerForEvaluationOnly()
    {
        var manifest = ModelManifest.Load(run.Layout.Model);
        Assert.NotNull(manifest.Eval?.ClipVision);
        Assert.Equal(ShapesModelFiles.ClipVisionWeights, manifest.Eval!.ClipVision!.Weights);
        Assert.Equal(File.ReadAllBytes(Path.Combine(run.Layout.Clip, ClipTowerFiles.VisionWeights)),
            File.ReadAllBytes(manifest.Resolve(manifest.Eval.ClipVision.Weights, "eval.clip_vision.weights")));
        Assert.Equal(File.ReadAllText(Path.Combine(run.Layout.Clip, ClipTowerFiles.VisionConfig)),
            File.ReadAllText(manifest.Resolve(manifest.Eval.ClipVision.Config!, "eval.clip_vision.config")));
        // Without a stage-1 folder the export has neither the files nor the key.
        using var dir = new RegionChat.TestSupport.TempDir();
        var plain = ShapesModelExporter.Export(run.Layout.Instruct, Path.Combine(dir.Path, "m"), clipVisionFolder: Path.Combine(dir.Path, "none"));
        Assert.DoesNotContain(ShapesModelFiles.ClipVisionWeights, plain.Files);
        Assert.Null(ModelManifest.Load(plain.Folder).Eval);
    }

    [Fact]
    public async Task FiguresAreFractionsThatAnIndependentRecountReproduces()
    {
        var options = new ShapesEvalOptions { Scenes = SceneCount, Threads = 1, Parallel = 4 };
        var result = await ShapesModelEvaluator.EvaluateAsync(run.Layout.Model, options);
        var json = result.ToJson();

        // The shape: four groups with exactly these keys, every figure a fraction (the smoke export has all towers).
        var groups = new Dictionary<string, string[]>
        {
            ["caption_exact"] = ["mask", "box", "whole"], ["cider"] = ["mask", "box", "whole"],
            ["qa"] = ["color", "shape", "size", "count"], ["zero_shot"] = ["clip_whole", "alpha_whole", "alpha_box", "alpha_mask"],
        };
        foreach (var (group, keys) in groups)
        {
            var node = Assert.IsType<JsonObject>(json[group]);
            Assert.Equal(keys.Order(), node.Select(kv => kv.Key).Order());
            foreach (var key in keys) Assert.InRange(node[key]!.GetValue<double>(), 0.0, 1.0);
        }
        Assert.Equal(SceneCount, (int)json["scenes"]!);
        Assert.Equal(ShapesSeeds.TestStart, (long)json["seed"]!);

        // The answers again, by another route: the training side's own visual tokens (ShapesClipInputs + the twin's
        // tower and projector) and prompt (LlamaCppAnswerer) on the same GGUF.
        var scenes = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, SceneCount).ToList();
        var samples = result.Asks.Select(a => new LlavaSample(scenes[a.SceneIndex],
            a.ObjectIndex is int o ? scenes[a.SceneIndex].Objects[o] : null, a.Mode, a.Question, "")).ToList();
        IReadOnlyList<string> answers;
        using (var model = ShapesLlavaModel.Load(run.Layout.Model))
        using (var llamaCpp = new LlamaCppAnswerer(Path.Combine(run.Layout.Model, ShapesModelFiles.Llm), threads: 1, parallel: 4))
            answers = llamaCpp.Answer(model, samples, options.MaxTokens);
        Assert.Equal(answers, result.Answers);

        string AnswerTo(int scene, int? obj, RegionAlphaMode mode, string question) =>
            answers[samples.FindIndex(s => s.Scene == scenes[scene] && s.Region == (obj is int o ? scenes[scene].Objects[o] : null)
                                           && s.Mode == mode && s.Question == question)];

        // Recount every figure from those answers.
        var regions = scenes.SelectMany((s, i) => s.Objects.Select(o => (Scene: i, Object: o))).ToList();
        foreach (var mode in new[] { RegionAlphaMode.Mask, RegionAlphaMode.Box, RegionAlphaMode.Whole })
        {
            var captions = regions.Select(r => AnswerTo(r.Scene, mode == RegionAlphaMode.Whole ? null : r.Object.Index, mode, ShapesText.DescribeRegion)).ToList();
            double exact = (double)regions.Where((r, i) => captions[i] == r.Object.Caption).Count() / regions.Count;
            string key = mode.ToString().ToLowerInvariant();
            Assert.Equal(exact, json["caption_exact"]![key]!.GetValue<double>(), 6);
            var items = regions.Select((r, i) => new CaptionItem($"{i}", CaptionTokenizer.Tokenize(captions[i]), [CaptionTokenizer.Tokenize(r.Object.Caption)])).ToList();
            Assert.Equal(CaptionScorer.Score(items).CiderD / 10, json["cider"]![key]!.GetValue<double>(), 6);
        }
        double Qa(string question, Func<ShapesObject, string> expected) =>
            (double)regions.Count(r => AnswerTo(r.Scene, r.Object.Index, RegionAlphaMode.Mask, question) == expected(r.Object)) / regions.Count;
        Assert.Equal(Qa(ShapesText.WhatColor, o => o.Color.Word()), json["qa"]!["color"]!.GetValue<double>(), 6);
        Assert.Equal(Qa(ShapesText.WhatShape, o => o.Shape.Word()), json["qa"]!["shape"]!.GetValue<double>(), 6);
        Assert.Equal(Qa(ShapesText.SmallOrLarge, o => o.Size.Word()), json["qa"]!["size"]!.GetValue<double>(), 6);
        double count = (double)Enumerable.Range(0, SceneCount)
            .Count(s => AnswerTo(s, null, RegionAlphaMode.Whole, ShapesText.HowMany) == ShapesText.CountWord(scenes[s].Objects.Count)) / SceneCount;
        Assert.Equal(count, json["qa"]!["count"]!.GetValue<double>(), 6);

        // Zero-shot again with the training side's evaluator (its own inputs from ShapesClipInputs).
        using var text = ClipTowerFiles.LoadText(run.Layout.Model);
        using (var vision = ClipTowerFiles.LoadVision(run.Layout.Model))
        using (var alpha = ZeroShotEvaluator.Create(vision, text))
        {
            var report = alpha.Evaluate(ShapesSeeds.TestStart, SceneCount, [RegionAlphaMode.Whole, RegionAlphaMode.Box, RegionAlphaMode.Mask]);
            Assert.Equal(report[RegionAlphaMode.Whole].Correct, result.ZeroShot.AlphaWhole!.Correct);
            Assert.Equal(report[RegionAlphaMode.Box].Correct, result.ZeroShot.AlphaBox!.Correct);
            Assert.Equal(report[RegionAlphaMode.Mask].Correct, result.ZeroShot.AlphaMask!.Correct);
            Assert.Equal(regions.Count, result.ZeroShot.AlphaMask.Total);
        }
        using var stage1 = AlphaClipVisionTransformer.Load(Path.Combine(run.Layout.Model, ShapesModelFiles.ClipVisionWeights),
            AlphaClipConfig.FromJsonFile(Path.Combine(run.Layout.Model, ShapesModelFiles.ClipVisionConfig)));
        using var prompts = text.EncodeTexts(ZeroShotEvaluator.ClassPrompts);
        using var clip = new ZeroShotEvaluator(stage1.EncodePooled, prompts);
        Assert.Equal(clip.Evaluate(ShapesSeeds.TestStart, SceneCount, [RegionAlphaMode.Whole])[RegionAlphaMode.Whole].Correct,
            result.ZeroShot.ClipWhole!.Correct);
        Assert.Contains("| whole image, plain CLIP (stage 1) |", result.Table());
        Assert.DoesNotContain("n/a", result.Table());
    }
}
