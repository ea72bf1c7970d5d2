using System.Text.Json.Nodes;
using RegionChat.Inference;
using RegionChat.Llm.Gguf;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Training.Pipeline;
using RegionChat.Data.Shapes;
using RegionChat.Training.Tests.Clip;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Pipeline;

[Collection(TorchStateCollection.Name)]
public class SmokePipelineTests(SmokeRun run) : IClassFixture<SmokeRun>
{
    [Fact]
    public void EveryStageRunsInOrderToTheEnd()
    {
        Assert.Equal([ShapesStage.Clip, ShapesStage.Alpha, ShapesStage.Llm, ShapesStage.Projector, ShapesStage.Instruct, ShapesStage.Chat, ShapesStage.Export],
            run.Results.Select(r => r.Stage));
        Assert.All(run.Results, r => Assert.True(r.Completed, $"{r.Stage} stopped at {r.Step}/{r.Steps}"));
        // Stage 2 wrote a tower, so the LLaVA stages used it, not the random stand-in.
        Assert.Contains(run.Messages, m => m.Contains("stage 2, Alpha-CLIP", StringComparison.Ordinal));
        Assert.False(Directory.Exists(run.Layout.RandomVision));
    }

    [Theory]
    [InlineData("llm", 0.6)]
    [InlineData("projector", 0.95)]
    [InlineData("instruct", 0.8)]
    public void TrainingLowersTheLossOfAFixedBatch(string stage, double factor)
    {
        string folder = Path.Combine(run.Layout.Root, stage);
        var first = File.ReadLines(Path.Combine(folder, "log.jsonl")).Select(l => JsonNode.Parse(l)!)
            .First(n => (string?)n["type"] == "step" && (int)n["step"]! == 1);
        double before = (double)first["loss"]!;   // step 1's batch with the initial weights
        using LlavaTrainer trainer = stage switch
        {
            "llm" => new LlmPretrainer(folder, run.Recipe.Llm),
            "projector" => new ProjectorAligner(folder, run.Recipe.Projector, null, null),
            _ => new InstructionTuner(folder, run.Recipe.Instruct, null),
        };
        Assert.Equal(trainer is LlmPretrainer ? run.Recipe.Llm.Steps : trainer is ProjectorAligner ? run.Recipe.Projector.Steps : run.Recipe.Instruct.Steps, trainer.Step);
        double after = trainer.BatchLoss(1);
        Assert.True(after < factor * before, $"{stage}: batch-1 loss {before:F4} → {after:F4}, expected below {factor} × {before:F4}");
    }

    [Fact]
    public void ExportIsAModelFolderTheInferenceManifestAccepts()
    {
        var manifest = ModelManifest.Load(run.Layout.Model);
        Assert.Equal("pad", manifest.Vision.Preprocess);
        Assert.Equal(-2, manifest.Vision.FeatureLayer);
        Assert.Equal("llava_v1", manifest.Llm.Template);
        Assert.Equal(ShapesText.SystemLine, manifest.Llm.SystemPrompt);
        Assert.Equal(ShapesText.DescribeRegion, manifest.DefaultInstruction);
        Assert.NotNull(manifest.TextTower);   // stage 1 trained a text tower, which travels with the model
        long total = Directory.GetFiles(run.Layout.Model).Sum(f => new FileInfo(f).Length);
        Assert.InRange(total, 1, 30_000_000);

        var projectorKeys = StateDictFile.ReadSafetensors(Path.Combine(run.Layout.Model, manifest.Projector.Weights!));
        Assert.True(run.Recipe.Chat.RegionPositionMap);   // the recipe's stage 6 adds the map, and the export keeps it
        Assert.Equal(["model.mm_projector.0.bias", "model.mm_projector.0.weight", "model.mm_projector.2.bias", "model.mm_projector.2.weight",
                      "model.mm_projector.region_position.weight"],
            projectorKeys.Keys.Order(StringComparer.Ordinal));
        var vision = AlphaClipConfig.FromJsonFile(Path.Combine(run.Layout.Model, manifest.Vision.Config!));
        Assert.Equal(run.Recipe.Clip.Vision, vision);
        using var gguf = GgufFile.Open(Path.Combine(run.Layout.Model, manifest.Llm.Gguf));
        Assert.Equal("llama", gguf.GetStringOrNull("general.architecture"));
        Assert.Equal(run.Recipe.Llm.EmbeddingLength, (int)gguf.GetInt64("llama.embedding_length"));
        using var model = ShapesLlavaModel.Load(run.Layout.Model);
        Assert.Equal(vision.Width, model.Projector.InputDim);
        Assert.Equal(model.Llm.Shape.EmbeddingLength, model.Projector.OutputDim);
        Assert.True(model.Projector.HasRegionPosition);
    }

    /// <summary>The inference path (manifest, preprocessing, select_feature "cls_patch") builds the visual tokens training built.</summary>
    [Fact]
    public void TheInferencePathEncodesTheVisualTokensTrainingUsed()
    {
        Assert.Equal("cls_patch", ModelManifest.Load(run.Layout.Model).Vision.SelectFeature);
        using var trained = ShapesLlavaModel.Load(run.Layout.Model);
        Assert.True(trained.IncludesCls);
        using var served = RegionChatModel.Load(run.Layout.Model, new RegionChatModelOptions { Threads = 1 });
        Assert.Equal(trained.ImageTokens, served.VisualTokenCount);
        Assert.Equal(trained.Vision.Config.Grid * trained.Vision.Config.Grid + 1, served.VisualTokenCount);

        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 3);
        var target = scene.Objects[0];
        using var image = SixLabors.ImageSharp.Image.LoadPixelData<SixLabors.ImageSharp.PixelFormats.Rgb24>(scene.Pixels, ShapesSpec.CanvasSize, ShapesSpec.CanvasSize);
        var mask = new RegionChat.Vision.Regions.MaskRegion(ShapesSpec.CanvasSize, ShapesSpec.CanvasSize, target.VisibleMask.Select(v => v != 0 ? (byte)255 : (byte)0).ToArray());
        var tokens = served.Encode(image, mask);
        float[] expected = trained.VisualTokenRows(LlavaSample.OfRegion(scene, target, RegionAlphaMode.Mask, target.Qa[0]));
        Assert.Equal(expected.Length, tokens.Block.Data.Length);
        double maxDiff = expected.Zip(tokens.Block.Data.ToArray(), (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(maxDiff < 1e-4, $"max |Δ| {maxDiff} between the trained and the served visual tokens");
    }

    [Fact]
    public void AnF16ExportHalvesTheLlmAndKeepsItsAnswers()
    {
        using var dir = new RegionChat.TestSupport.TempDir();
        var f16 = ShapesModelExporter.Export(run.Layout.Chat, Path.Combine(dir.Path, "f16"), GgmlType.F16);
        Assert.Equal(GgmlType.F16, f16.LlmType);
        string path = Path.Combine(f16.Folder, ShapesModelFiles.Llm);
        using (var gguf = GgufFile.Open(path))
            Assert.Equal(GgmlType.F16, gguf.Tensors.Single(t => t.Name == "blk.0.attn_q.weight").Type);
        Assert.True(new FileInfo(path).Length < 0.6 * new FileInfo(Path.Combine(run.Layout.Model, ShapesModelFiles.Llm)).Length);
        using var full = ShapesLlavaModel.Load(run.Layout.Model);
        using var half = ShapesLlavaModel.Load(f16.Folder);
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 5);
        var samples = scene.Objects.Select(o => LlavaSample.OfRegion(scene, o, RegionAlphaMode.Mask, o.Qa[0])).ToList();
        using (no_grad())
        {
            var a = full.Loss(samples).Loss.ToDouble();
            var b = half.Loss(samples).Loss.ToDouble();
            Assert.True(Math.Abs(a - b) < 0.02 * Math.Max(1, a), $"f32 loss {a}, f16 loss {b}");
        }
    }

    /// <summary>The exported GGUF in llama.cpp (the inference engine, its llava_v1 template, injected visual tokens)
    /// gives the logits and the greedy answers of the TorchSharp twin that trained it.</summary>
    [Fact]
    public async Task LlamaCppAnswersWhatTheTwinAnswers()
    {
        using var model = ShapesLlavaModel.Load(run.Layout.Model);
        using var llamaCpp = new LlamaCppAnswerer(Path.Combine(run.Layout.Model, ShapesModelFiles.Llm), threads: 1, parallel: 4);
        var scenes = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, 2).ToList();
        var samples = new List<LlavaSample>
        {
            LlavaSample.Whole(scenes[0], scenes[0].Qa[0]),
            LlavaSample.Whole(scenes[1], scenes[1].Qa[1]),
            LlavaSample.OfRegion(scenes[0], scenes[0].Objects[0], RegionAlphaMode.Mask, scenes[0].Objects[0].Qa[0]),
            LlavaSample.OfRegion(scenes[0], scenes[0].Objects[0], RegionAlphaMode.Box, scenes[0].Objects[0].Qa[1]),
            LlavaSample.OfRegion(scenes[1], scenes[1].Objects[^1], RegionAlphaMode.Mask, scenes[1].Objects[^1].Qa[2]),
            LlavaSample.OfRegion(scenes[1], scenes[1].Objects[^1], RegionAlphaMode.Box, scenes[1].Objects[^1].Qa[3]),
        };

        foreach (var sample in samples)
        {
            float[] rows = model.VisualTokenRows(sample);
            var engineLogits = await llamaCpp.Engine.ComputeLogitsAsync(llamaCpp.Render(rows, sample.Question));
            float[] twinLogits = TwinLastLogits(model, sample);
            Assert.Equal(twinLogits.Length, engineLogits.Length);
            double maxDiff = twinLogits.Zip(engineLogits, (a, b) => Math.Abs((double)a - b)).Max();
            // llama.cpp keeps K and V in f16 (its default cache type), so the logits agree to ~1e-3, not to f32 rounding.
            double scale = Math.Max(1, twinLogits.Max(Math.Abs));
            Assert.True(maxDiff < 1e-2 * scale, $"{sample}: max |Δlogit| {maxDiff} (logits up to {scale})");
        }

        var twin = model.GreedyAnswers(samples, maxTokens: 12);
        var cpp = llamaCpp.Answer(model, samples, maxTokens: 12);
        for (int i = 0; i < samples.Count; i++) Assert.Equal(twin[i].Trim(), cpp[i]);
        Assert.Contains(twin, a => a.Trim().Length > 0);
    }

    [Fact]
    public void ARerunResumesEveryFinishedStageWithoutTraining()
    {
        string gguf = Path.Combine(run.Layout.Model, ShapesModelFiles.Llm);
        byte[] before = File.ReadAllBytes(gguf);
        var again = run.Pipeline.Run(ShapesStage.All);
        Assert.All(again, r => Assert.True(r.Completed));
        Assert.All(again.Where(r => r.Stage is not ShapesStage.Export), r => Assert.Equal(r.Steps, r.ResumedFrom));
        Assert.Equal(before, File.ReadAllBytes(gguf));
    }

    [Fact]
    public void AStageWhoseInputIsMissingSaysWhichStageToRunFirst()
    {
        using var dir = new RegionChat.TestSupport.TempDir();
        var pipeline = new ShapesTrainingPipeline(dir.Path, run.Recipe);
        var e = Assert.Throws<InvalidOperationException>(() => pipeline.RunStage(ShapesStage.Projector));
        Assert.Contains("--stage llm", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => pipeline.RunStage(ShapesStage.Export));
        Assert.Contains("--stage instruct", e.Message);
    }

    static float[] TwinLastLogits(ShapesLlavaModel model, LlavaSample sample)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var prompt = model.Renderer.Prompt(sample.Question);
        var visual = model.VisualTokens([sample]);
        var logits = model.Llm.Forward([
            RegionChat.Llm.Twin.LlamaTwinSegment.Tokens(prompt.BeforeImage),
            RegionChat.Llm.Twin.LlamaTwinSegment.Embeddings(visual),
            RegionChat.Llm.Twin.LlamaTwinSegment.Tokens(prompt.AfterImage),
        ]);
        return logits[0, -1].data<float>().ToArray();
    }
}
