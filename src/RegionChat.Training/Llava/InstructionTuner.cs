using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;
using RegionChat.Training.Clip;
using RegionChat.Training.Clip.Internal;
using RegionChat.Training.Llava.Internal;
using RegionChat.Data.Shapes;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// Stage 5, instruction tuning (LLaVA's stage 2): the vision tower stays frozen; the projector and the LLM learn every
/// question of the world — region questions (describe / colour / shape / size) with the visible-mask alpha or, for a
/// fraction, the box alpha, and whole-image questions (describe, how many) with the all-ones alpha — the loss on the
/// answer tokens and EOS only. Inputs (copied to init/ from a stage-4 folder): its init/ towers and LLM and its
/// projector. Outputs: llm.gguf (f32) and projector.safetensors.
/// </summary>
public sealed class InstructionTuner : LlavaTrainer
{
    const ulong DataSalt = 0x1257;


    readonly InstructionTuneOptions _options;
    readonly LlavaSampler _sampler;

    /// <param name="projectorFolder">A stage-4 (projector) folder; null when resuming.</param>
    public InstructionTuner(string outputFolder, InstructionTuneOptions options, string? projectorFolder) : base(outputFolder, options)
    {
        _options = options;
        _sampler = new LlavaSampler(options.Seed, DataSalt, options.ScenePool);
        if (!Directory.Exists(Path.Combine(OutputFolder, InitFolder)))
        {
            if (projectorFolder is null) throw new ArgumentException("a new instruct run needs the stage-4 (projector) folder");
            PrepareInit(InputFiles(projectorFolder));
        }
        Model = ShapesLlavaModel.Load(Path.Combine(OutputFolder, InitFolder));
        foreach (var p in Model.Vision.parameters()) p.requires_grad = false;
        Model.Projector.train();
        Model.Llm.train();
        var trainable = Model.Projector.named_parameters()
            .Select(p => new TrainableParameter("projector." + p.name, p.parameter, 1, DecayFor(p.name, p.parameter, options.WeightDecay)))
            .Concat(Model.Llm.named_parameters().Select(p => new TrainableParameter("llm." + p.name, p.parameter,
                options.LlmLearningRateMultiplier, DecayFor(p.name, p.parameter, options.WeightDecay))));
        Initialise(trainable, new JsonObject
        {
            ["projector_from"] = projectorFolder is null ? null : Path.GetFullPath(projectorFolder),
            ["vision"] = JsonNode.Parse(Model.Vision.Config.ToJson()),
        });
    }

    public override string Stage => "instruct";

    public ShapesLlavaModel Model { get; }

    /// <summary>The input files of a stage-5 run: a stage-4 folder's init/ towers and LLM, and its projector.</summary>
    public static IReadOnlyList<(string Source, string Name)> InputFiles(string projectorFolder)
    {
        string init = Path.Combine(projectorFolder, InitFolder);
        string projector = Path.Combine(projectorFolder, ShapesModelFiles.Projector);
        if (!File.Exists(projector) || !ShapesModelFiles.HasVision(init) || !File.Exists(Path.Combine(init, ShapesModelFiles.Llm)))
            throw new ArgumentException($"{projectorFolder} is not a finished projector stage (needs {ShapesModelFiles.Projector} and init/ with the vision tower and {ShapesModelFiles.Llm})");
        var files = new List<(string, string)> { (projector, ShapesModelFiles.Projector) };
        string features = Path.Combine(projectorFolder, ShapesLlavaModel.FeatureFile);
        if (File.Exists(features)) files.Add((features, ShapesLlavaModel.FeatureFile));
        foreach (string name in new[] { ClipTowerFiles.VisionWeights, ClipTowerFiles.VisionConfig, ShapesModelFiles.Llm, ClipTowerFiles.TextWeights, ClipTowerFiles.TextConfig })
            if (File.Exists(Path.Combine(init, name))) files.Add((Path.Combine(init, name), name));
        return files;
    }

    /// <summary>The samples of a (1-based) step.</summary>
    public IReadOnlyList<LlavaSample> BatchSamples(int step) =>
        Enumerable.Range(0, _options.BatchSize)
            .Select(i => _sampler.Draw(step, i, _options.WholeImageFraction, _options.BoxFraction, ShapesText.ImageQuestions, ShapesText.RegionQuestions))
            .ToList();

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step) => Model.Loss(BatchSamples(step));

    /// <summary>Greedy exact-match accuracy of every question on validation scenes, by alpha mode.</summary>
    public override JsonObject? Evaluate(int scenes)
    {
        var json = ShapesLlavaEvaluator.Evaluate(Model, ShapesSeeds.ValidationStart, scenes, _options.EvalModes).ToJson();
        json["split"] = "validation";
        return json;
    }

    private protected override void WriteOutputs(JsonObject notes)
    {
        ShapesModelFiles.SaveProjector(Model.Projector, Path.Combine(OutputFolder, ShapesModelFiles.Projector));
        string path = Path.Combine(OutputFolder, ShapesModelFiles.Llm);
        Model.Llm.SaveGguf(path + ".tmp", Model.Vocabulary, GgmlType.F32, new LlamaGgufOptions { Name = "shapes-tiny-llm (stage 5)" });
        File.Move(path + ".tmp", path, overwrite: true);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Model.Dispose();
    }
}
