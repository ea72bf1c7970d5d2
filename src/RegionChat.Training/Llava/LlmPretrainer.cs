using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.Training.Clip.Internal;
using RegionChat.Training.Llava.Internal;
using RegionChat.Data.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// Stage 3, LLM pre-training: a tiny llama twin learns the shapes world's language by next-token cross-entropy on
/// every token after BOS of (a) the llava_v1 prompts with their answers, rendered token for token as the engine renders
/// them, the image slot either empty or holding the caption of what the image shows (so the LLM learns to answer from
/// what sits in that slot), and (b) bare captions. Output: <c>llm.gguf</c> (f32, with the tokenizer).
/// </summary>
public sealed class LlmPretrainer : LlavaTrainer
{
    const ulong DataSalt = 0x11A3A, CaptionSalt = 0xCA9, WholeSalt = 0x3401E, PickSalt = 0x91C, StandInSalt = 0x57A9D;

    readonly LlmPretrainOptions options;
    readonly SceneStream data;

    public LlmPretrainer(string outputFolder, LlmPretrainOptions options) : base(outputFolder, options)
    {
        this.options = options;
        data = new SceneStream(options.Seed, DataSalt, options.ScenePool);
        Vocabulary = ShapesLlmVocabulary.Create();
        Renderer = new LlavaPromptRenderer(ShapesLlmVocabulary.Tokenizer(Vocabulary));
        Llm = new LlamaTwin(options.Shape(Vocabulary.Count), options.Seed);
        Llm.train();
        var trainable = Llm.named_parameters()
            .Select(p => new TrainableParameter("llm." + p.name, p.parameter, 1, DecayFor(p.name, p.parameter, options.WeightDecay)));
        Initialise(trainable, new JsonObject { ["vocabulary_size"] = Vocabulary.Count });
    }

    public override string Stage => "llm";

    public LlamaTwin Llm { get; }
    public LlamaVocabulary Vocabulary { get; }
    public LlavaPromptRenderer Renderer { get; }

    /// <summary>The token rows of a (1-based) step.</summary>
    public IReadOnlyList<int[]> BatchRows(int step) =>
        Enumerable.Range(0, options.BatchSize).Select(i => Row(ShapesGenerator.Generate(data.SceneSeed(step, i)), step, i)).ToList();

    int[] Row(ShapesScene scene, int step, int i)
    {
        double pick = data.Uniform(step, i, PickSalt);
        bool whole = data.Uniform(step, i, WholeSalt) < options.WholeImageFraction;
        var region = scene.Objects[Math.Min((int)(pick * scene.Objects.Count), scene.Objects.Count - 1)];
        if (data.Uniform(step, i, CaptionSalt) < options.CaptionFraction)
            return Renderer.Text(whole ? scene.Caption : region.Caption);
        var qa = whole ? scene.Qa : region.Qa;
        // A second independent pick chooses the question, so object and question choices are not tied together.
        var chosen = qa[Math.Min((int)(data.Uniform(step, i, PickSalt + 1) * qa.Count), qa.Count - 1)];
        var sequence = Renderer.Render(chosen.Question, chosen.Answer);
        if (data.Uniform(step, i, StandInSalt) >= options.StandInFraction) return sequence.TextIds;
        int[] standIn = Renderer.Tokenizer.Encode(whole ? scene.Caption : region.Caption, addBos: false);
        return [.. sequence.BeforeImage, .. standIn, .. sequence.AfterImage, .. sequence.Answer];
    }

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step) =>
        LlavaLoss.Text(Llm, BatchRows(step), Vocabulary.EosId);

    /// <summary>
    /// Teacher-forced loss and token accuracy on every question of validation scenes, with the image slot empty
    /// ("loss", "token_accuracy") and holding the caption stand-in ("stand_in_loss", "stand_in_token_accuracy": near 1
    /// when the LLM reads answers off the slot).
    /// </summary>
    public override JsonObject? Evaluate(int scenes)
    {
        var empty = new List<int[]>();
        var standIn = new List<int[]>();
        foreach (var scene in ShapesGenerator.GenerateMany(ShapesSeeds.ValidationStart, scenes))
            foreach (var e in ShapesCorpus.Examples(scene))
            {
                var s = Renderer.Render(e.Question, e.Answer);
                empty.Add(s.TextIds);
                string caption = e.ObjectIndex is int o ? scene.Objects[o].Caption : scene.Caption;
                standIn.Add([.. s.BeforeImage, .. Renderer.Tokenizer.Encode(caption, addBos: false), .. s.AfterImage, .. s.Answer]);
            }
        var (loss, accuracy) = Score(empty);
        var (standInLoss, standInAccuracy) = Score(standIn);
        return new JsonObject
        {
            ["split"] = "validation", ["scenes"] = scenes, ["rows"] = empty.Count,
            ["loss"] = Math.Round(loss, 6), ["token_accuracy"] = Math.Round(accuracy, 6),
            ["stand_in_loss"] = Math.Round(standInLoss, 6), ["stand_in_token_accuracy"] = Math.Round(standInAccuracy, 6),
        };
    }

    (double Loss, double Accuracy) Score(IReadOnlyList<int[]> rows)
    {
        using var _ = no_grad();
        double lossSum = 0, accuracySum = 0;
        int batches = 0;
        foreach (var chunk in rows.Chunk(64))
        {
            using var scope = NewDisposeScope();
            var (loss, accuracy) = LlavaLoss.Text(Llm, chunk, Vocabulary.EosId);
            lossSum += loss.ToDouble();
            accuracySum += accuracy.ToDouble();
            batches++;
        }
        return (lossSum / batches, accuracySum / batches);
    }

    private protected override void WriteOutputs(JsonObject notes)
    {
        string path = Path.Combine(OutputFolder, ShapesModelFiles.Llm);
        string temp = path + ".tmp";
        Llm.SaveGguf(temp, Vocabulary, GgmlType.F32, new LlamaGgufOptions { Name = "shapes-tiny-llm (stage 3)" });
        File.Move(temp, path, overwrite: true);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Llm.Dispose();
    }
}
