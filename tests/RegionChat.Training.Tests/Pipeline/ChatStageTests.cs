using System.Text.Json.Nodes;
using RegionChat.Llm.Twin;
using RegionChat.TestSupport;
using RegionChat.Training.Llava;
using RegionChat.Training.Tests.Clip;
using RegionChat.Vision;

namespace RegionChat.Training.Tests.Pipeline;

/// <summary>Stage 6 (chat tuning) of the smoke run: stage 5 continued on conversations, the LLM's context widened.</summary>
[Collection(TorchStateCollection.Name)]
public class ChatStageTests(SmokeRun run) : IClassFixture<SmokeRun>
{
    [Fact]
    public void TheExportedLlmHasTheChatStagesWiderContextAndStage5sWeightsAsItsStart()
    {
        using var instruct = LlamaTwin.FromGguf(Path.Combine(run.Layout.Instruct, ShapesModelFiles.Llm));
        using var start = LlamaTwin.FromGguf(Path.Combine(run.Layout.Chat, LlavaTrainer.InitFolder, ShapesModelFiles.Llm));
        using var exported = LlamaTwin.FromGguf(Path.Combine(run.Layout.Model, ShapesModelFiles.Llm));
        Assert.Equal(run.Recipe.Llm.ContextLength, instruct.Shape.ContextLength);
        Assert.True(run.Recipe.Chat.ContextLength > instruct.Shape.ContextLength);
        Assert.Equal(run.Recipe.Chat.ContextLength, start.Shape.ContextLength);
        Assert.Equal(run.Recipe.Chat.ContextLength, exported.Shape.ContextLength);
        // The widened start holds stage 5's weights unchanged; chat tuning then changed them.
        var trained = instruct.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(start.named_parameters(), p => Assert.True(p.parameter.allclose(trained[p.name], 0, 0), p.name));
        Assert.Contains(exported.named_parameters(), p => !p.parameter.allclose(trained[p.name], 0, 0));
    }

    [Fact]
    public void ChatTuningLowersTheLossOfItsFirstBatchOfConversations()
    {
        string folder = run.Layout.Chat;
        var first = File.ReadLines(Path.Combine(folder, "log.jsonl")).Select(l => JsonNode.Parse(l)!)
            .First(n => (string?)n["type"] == "step" && (int)n["step"]! == 1);
        using var trainer = InstructionTuner.ContinueFrom(folder, run.Recipe.Chat, null);
        Assert.Equal(run.Recipe.Chat.Steps, trainer.Step);
        Assert.Equal(run.Recipe.Chat.BatchSize, trainer.BatchConversations(1).Count);
        Assert.Contains(trainer.BatchConversations(1), c => c.Count > 1);
        double before = (double)first["loss"]!, after = trainer.BatchLoss(1);
        Assert.True(after < 0.9 * before, $"chat: batch-1 loss {before:F4} → {after:F4}, expected below 0.9 × {before:F4}");
    }

    [Fact]
    public void ARegionPositionMapStartsAtZeroLearnsAndIsSavedWithTheProjector()
    {
        using var temp = new TempDir();
        var options = run.Recipe.Chat with { RegionPositionMap = true, PositionShare = 0.9, Steps = 3, WarmupSteps = 1 };
        using var trainer = InstructionTuner.ContinueFrom(temp.Path, options, run.Layout.Instruct);
        var map = trainer.TrainableParameters.Single(p => p.Name == "projector.region_position.weight").Parameter;
        Assert.Equal(0f, map.abs().max().item<float>());
        trainer.Run();
        Assert.True(map.abs().max().item<float>() > 0, "three steps left the region-position map at zero");
        using var saved = LlavaProjector.Load(Path.Combine(temp.Path, ShapesModelFiles.Projector));
        Assert.True(saved.HasRegionPosition);
    }
}
