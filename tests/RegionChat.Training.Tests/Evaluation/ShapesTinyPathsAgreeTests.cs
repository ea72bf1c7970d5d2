using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation;
using RegionChat.Training.Llava;
using RegionChat.Data.Shapes;
using RegionChat.Training.Tests.Clip;

namespace RegionChat.Training.Tests.Evaluation;

/// <summary>
/// The committed models/shapes-tiny: the TorchSharp twin and llama.cpp give the same greedy answers to 20 test prompts
/// with images, and so does the inference path `eval shapes` measures (RegionChatModel: its preprocessor, tower,
/// projector and chat template on the same GGUF).
/// </summary>
[Collection(TorchStateCollection.Name)]
public class ShapesTinyPathsAgreeTests
{
    static string ShapesTiny => Path.Combine(SharedFiles.RepoRoot, "models", "shapes-tiny");

    /// <summary>20 prompts from 10 test scenes: each region question with mask and with box, each image question whole.</summary>
    static List<LlavaSample> Prompts()
    {
        var scenes = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart + 700, 10).ToList();
        var samples = new List<LlavaSample>();
        for (int i = 0; samples.Count < 20; i++)
        {
            var scene = scenes[i % scenes.Count];
            var o = scene.Objects[i % scene.Objects.Count];
            samples.Add((i % 5) switch
            {
                0 => LlavaSample.Whole(scene, scene.Qa[(i / 5) % 2]),
                1 or 2 => LlavaSample.OfRegion(scene, o, RegionAlphaMode.Mask, o.Qa[(i / 5 + i) % 4]),
                _ => LlavaSample.OfRegion(scene, o, RegionAlphaMode.Box, o.Qa[(i / 5 + i) % 4]),
            });
        }
        return samples;
    }

    /// <summary>Chat tuning trains on the visual tokens the server computes, with all of them and at a budget: the same
    /// rows, in the same order, for masks, boxes and the whole image (the region-position map included).</summary>
    [Fact]
    public void TrainingKeepsTheVisualTokensTheServerKeepsAtABudget()
    {
        var samples = Prompts();
        using var trained = ShapesLlavaModel.Load(ShapesTiny);
        using var served = RegionChatModel.Load(ShapesTiny);
        Assert.True(trained.Projector.HasRegionPosition, "the committed model should have the region-position map this test compares");
        using (TorchSharp.torch.no_grad())
        {
            // Single-turn rows train at a budget too: the loss is over the same answers with fewer image rows.
            var (full, _) = trained.Loss(samples);
            var (budgeted, _) = trained.Loss(samples, 17);
            Assert.True(double.IsFinite(full.item<float>()) && double.IsFinite(budgeted.item<float>()));
            Assert.NotEqual(full.item<float>(), budgeted.item<float>());
        }
        foreach (int budget in new[] { 0, 17, 5 })
        {
            int kept = budget == 0 ? trained.ImageTokens : budget;
            float[] rows;
            using (TorchSharp.torch.no_grad())
            using (var tokens = trained.VisualTokens(samples, budget))
            {
                Assert.Equal([samples.Count, kept, trained.Llm.Shape.EmbeddingLength], tokens.shape.Select(d => (int)d).ToArray());
                rows = tokens.contiguous().data<float>().ToArray();
            }
            for (int i = 0; i < samples.Count; i++)
            {
                using var image = samples[i].Scene.ToImage();
                var region = ShapesModelEvaluator.RegionOf(samples[i].Scene, new ShapesEvalAsk(0, samples[i].Region?.Index, samples[i].Mode, ""));
                var block = served.Encode(image, region, budget).Block;
                Assert.Equal(kept, block.Count);
                var expected = block.Data.Span;
                var actual = rows.AsSpan(i * expected.Length, expected.Length);
                for (int j = 0; j < expected.Length; j++)
                    Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-4f + 1e-4f * Math.Abs(expected[j]),
                        $"sample {i} ({samples[i].Mode}) value {j}: server {expected[j]}, training {actual[j]}");
            }
        }
    }

    [Fact]
    public async Task TwinLlamaCppAndTheInferencePathGiveTheSameGreedyAnswers()
    {
        Assert.True(File.Exists(Path.Combine(ShapesTiny, "model.json")), $"the committed model is missing: {ShapesTiny}");
        var samples = Prompts();
        Assert.Equal(20, samples.Count);
        Assert.Equal(3, samples.Select(s => s.Mode).Distinct().Count());
        Assert.True(samples.Select(s => s.Question).Distinct().Count() >= 5);

        IReadOnlyList<string> twin, llamaCpp;
        using (var model = ShapesLlavaModel.Load(ShapesTiny))
        {
            twin = model.GreedyAnswers(samples, maxTokens: 24).Select(a => a.Trim()).ToList();
            using var answerer = new LlamaCppAnswerer(Path.Combine(ShapesTiny, ShapesModelFiles.Llm), threads: 1, parallel: 4);
            llamaCpp = answerer.Answer(model, samples, maxTokens: 24);
        }
        Assert.Equal(twin, llamaCpp);
        Assert.Contains(twin, a => a.Length > 0);

        using var served = RegionChatCore.ForModelFolder(ShapesTiny, new RegionChatCoreOptions { Threads = 1, ParallelSequences = 4, ContextSize = 1024 });
        var inference = new List<string>();
        foreach (var s in samples)
        {
            var image = ImageInput.FromBytes(ShapesModelEvaluator.ScenePng(s.Scene));
            var region = ShapesModelEvaluator.RegionOf(s.Scene, new ShapesEvalAsk(0, s.Region?.Index, s.Mode, s.Question));
            inference.Add((await ShapesModelEvaluator.AnswerAsync(served, image, region, $"{s.Region?.Index}:{s.Mode}", s.Question, 24, null, CancellationToken.None)).Text);
        }
        Assert.Equal(twin, inference);
    }
}
