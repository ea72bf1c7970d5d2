using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.Training.Clip;
using RegionChat.Training.Clip.Internal;
using RegionChat.Training.Llava.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// Stage 5, instruction tuning (LLaVA's stage 2): the vision tower stays frozen; the projector and the LLM learn every
/// question of the world — region questions (describe / colour / shape / size) with the visible-mask alpha or, for a
/// fraction, the box alpha, and whole-image questions (describe, how many) with the all-ones alpha — the loss on the
/// answer tokens and EOS only. With <see cref="InstructionTuneOptions.MaxTurns"/> &gt; 1 each row is a conversation
/// (<see cref="LlavaPromptRenderer.RenderChat"/>) whose first turn is such a question and whose later turns show new
/// regions or images or ask follow-up and relation questions; every answer counts. Inputs (copied to init/ from a stage-4 folder): its init/ towers and LLM and
/// its
/// projector. Outputs: llm.gguf (f32) and projector.safetensors.
/// </summary>
public sealed class InstructionTuner : LlavaTrainer
{
    const ulong DataSalt = 0x1257;


    readonly InstructionTuneOptions options;
    readonly LlavaSampler sampler;
    readonly LlavaChatSampler chats;

    /// <param name="projectorFolder">A stage-4 (projector) folder; null when resuming.</param>
    public InstructionTuner(string outputFolder, InstructionTuneOptions options, string? projectorFolder)
        : this(outputFolder, options, projectorFolder, projectorFolder is null ? null : InputFiles(projectorFolder), "instruct")
    {
    }

    /// <summary>
    /// Chat tuning: instruction tuning continued from a finished stage-5 folder (its trained LLM and projector, its
    /// init/ towers), typically on conversations (<see cref="InstructionTuneOptions.MaxTurns"/> &gt; 1); the LLM's
    /// context is widened to <see cref="InstructionTuneOptions.ContextLength"/> when that is larger.
    /// </summary>
    /// <param name="instructFolder">A finished stage-5 (instruct) folder; null when resuming.</param>
    public static InstructionTuner ContinueFrom(string outputFolder, InstructionTuneOptions options, string? instructFolder) =>
        new(outputFolder, options, instructFolder, instructFolder is null ? null : ContinuationInputFiles(instructFolder), "chat");

    InstructionTuner(string outputFolder, InstructionTuneOptions options, string? sourceFolder,
        IReadOnlyList<(string Source, string Name)>? inputs, string stage) : base(outputFolder, options)
    {
        this.options = options;
        Stage = stage;
        sampler = new LlavaSampler(options.Seed, DataSalt, options.ScenePool);
        chats = new LlavaChatSampler(options.Seed, DataSalt, options.ScenePool, options.RelationShare, options.LeftOfShare,
            options.PreviousShare, options.MatchShare, options.PositionShare);
        if (!Directory.Exists(Path.Combine(OutputFolder, InitFolder)))
        {
            if (inputs is null) throw new ArgumentException($"a new {stage} run needs its input folder");
            PrepareInit(inputs);
            if (options.ContextLength is int context) WidenContext(InitPath(ShapesModelFiles.Llm), context);
        }
        Model = ShapesLlavaModel.Load(Path.Combine(OutputFolder, InitFolder));
        foreach (var p in Model.Vision.parameters()) p.requires_grad = false;
        if (options.RegionPositionMap) Model.Projector.AddRegionPositionMap();
        Model.Projector.train();
        Model.Llm.train();
        var trainable = Model.Projector.named_parameters()
            .Select(p => new TrainableParameter("projector." + p.name, p.parameter,
                p.name.StartsWith(LlavaProjector.RegionPositionName, StringComparison.Ordinal) ? options.RegionPositionLearningRateMultiplier : 1,
                DecayFor(p.name, p.parameter, options.WeightDecay)))
            .Concat(Model.Llm.named_parameters().Select(p => new TrainableParameter("llm." + p.name, p.parameter,
                options.LlmLearningRateMultiplier, DecayFor(p.name, p.parameter, options.WeightDecay))));
        Initialise(trainable, new JsonObject
        {
            [stage == "instruct" ? "projector_from" : "instruct_from"] = sourceFolder is null ? null : Path.GetFullPath(sourceFolder),
            ["vision"] = JsonNode.Parse(Model.Vision.Config.ToJson()),
        });
    }

    public override string Stage { get; }

    public ShapesLlavaModel Model { get; }

    /// <summary>The input files of a stage-5 run: a stage-4 folder's init/ towers and LLM, and its projector.</summary>
    public static IReadOnlyList<(string Source, string Name)> InputFiles(string projectorFolder)
    {
        string init = Path.Combine(projectorFolder, InitFolder);
        string projector = Path.Combine(projectorFolder, ShapesModelFiles.Projector);
        if (!File.Exists(projector) || !ShapesModelFiles.HasVision(init) || !File.Exists(Path.Combine(init, ShapesModelFiles.Llm)))
            throw new ArgumentException($"{projectorFolder} is not a finished projector stage (needs {ShapesModelFiles.Projector} and init/ with the vision " +
                $"tower and {ShapesModelFiles.Llm})");
        var files = new List<(string, string)> { (projector, ShapesModelFiles.Projector) };
        string features = Path.Combine(projectorFolder, ShapesLlavaModel.FeatureFile);
        if (File.Exists(features)) files.Add((features, ShapesLlavaModel.FeatureFile));
        foreach (string name in new[] { ClipTowerFiles.VisionWeights, ClipTowerFiles.VisionConfig, ShapesModelFiles.Llm, ClipTowerFiles.TextWeights,
            ClipTowerFiles.TextConfig })
            if (File.Exists(Path.Combine(init, name))) files.Add((Path.Combine(init, name), name));
        return files;
    }

    /// <summary>The input files of a chat-tuning run: a stage-5 folder's trained LLM and projector and its init/ towers.</summary>
    public static IReadOnlyList<(string Source, string Name)> ContinuationInputFiles(string instructFolder)
    {
        string init = Path.Combine(instructFolder, InitFolder);
        string projector = Path.Combine(instructFolder, ShapesModelFiles.Projector);
        string llm = Path.Combine(instructFolder, ShapesModelFiles.Llm);
        if (!File.Exists(projector) || !File.Exists(llm) || !ShapesModelFiles.HasVision(init))
            throw new ArgumentException($"{instructFolder} is not a finished instruct stage (needs {ShapesModelFiles.Projector}, {ShapesModelFiles.Llm} and " +
                "init/ with the vision tower)");
        var files = new List<(string, string)> { (projector, ShapesModelFiles.Projector), (llm, ShapesModelFiles.Llm) };
        string features = Path.Combine(init, ShapesLlavaModel.FeatureFile);   // stage 5 keeps stage 4's choice in init/
        if (File.Exists(features)) files.Add((features, ShapesLlavaModel.FeatureFile));
        foreach (string name in new[] { ClipTowerFiles.VisionWeights, ClipTowerFiles.VisionConfig, ClipTowerFiles.TextWeights, ClipTowerFiles.TextConfig })
            if (File.Exists(Path.Combine(init, name))) files.Add((Path.Combine(init, name), name));
        return files;
    }

    /// <summary>Rewrites a GGUF with a larger llama.context_length (rotary positions have no weights: only the number changes).</summary>
    static void WidenContext(string gguf, int context)
    {
        using var llm = LlamaTwin.FromGguf(gguf);
        if (llm.Shape.ContextLength >= context) return;
        LlamaVocabulary vocabulary;
        using (var file = GgufFile.Open(gguf)) vocabulary = LlamaVocabulary.FromGguf(file);
        using var wider = new LlamaTwin(llm.Shape with { ContextLength = context });
        using (no_grad())
        {
            var source = llm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in wider.named_parameters()) parameter.copy_(source[name]);
        }
        wider.SaveGguf(gguf + ".tmp", vocabulary, GgmlType.F32, new LlamaGgufOptions { Name = "shapes-tiny-llm (stage 5)" });
        File.Move(gguf + ".tmp", gguf, overwrite: true);
    }

    /// <summary>The samples of a (1-based) step.</summary>
    public IReadOnlyList<LlavaSample> BatchSamples(int step) =>
        Enumerable.Range(0, options.BatchSize)
            .Select(i => sampler.Draw(step, i, options.WholeImageFraction, options.BoxFraction, ShapesText.ImageQuestions, ShapesText.RegionQuestions))
            .ToList();

    /// <summary>The conversations of a (1-based) step (MaxTurns &gt; 1); each one's first turn is that row's <see cref="BatchSamples"/> sample.</summary>
    public IReadOnlyList<IReadOnlyList<LlavaChatTurn>> BatchConversations(int step) =>
        Enumerable.Range(0, options.BatchSize)
            .Select(i => chats.Draw(step, i, options.MaxTurns, options.WholeImageFraction, options.BoxFraction))
            .ToList();

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step) =>
        options.MaxTurns > 1
            ? Model.ChatLoss(BatchConversations(step), options.BudgetOfStep(step))
            : Model.Loss(BatchSamples(step), options.BudgetOfStep(step));

    /// <summary>Greedy exact-match accuracy of every question on validation scenes, by alpha mode.</summary>
    public override JsonObject? Evaluate(int scenes)
    {
        var json = ShapesLlavaEvaluator.Evaluate(Model, ShapesSeeds.ValidationStart, scenes, options.EvalModes).ToJson();
        json["split"] = "validation";
        return json;
    }

    private protected override void WriteOutputs(JsonObject notes)
    {
        ShapesModelFiles.SaveProjector(Model.Projector, Path.Combine(OutputFolder, ShapesModelFiles.Projector));
        string path = Path.Combine(OutputFolder, ShapesModelFiles.Llm);
        Model.Llm.SaveGguf(path + ".tmp", Model.Vocabulary, GgmlType.F32,
            new LlamaGgufOptions { Name = $"shapes-tiny-llm ({(Stage == "instruct" ? "stage 5" : Stage)})" });
        File.Move(path + ".tmp", path, overwrite: true);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Model.Dispose();
    }
}
