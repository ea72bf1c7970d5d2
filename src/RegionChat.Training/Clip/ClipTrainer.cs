using System.Text.Json.Nodes;
using RegionChat.Training.Clip.Internal;
using RegionChat.Training.Shapes;
using RegionChat.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// Stage 1, CLIP pre-training: an Alpha-CLIP image tower (conv1_alpha zero and frozen, all-ones alpha) and a causal text
/// tower learn one embedding space from fresh train scenes and their whole-image captions (symmetric InfoNCE with
/// duplicate captions merged, learnable logit scale clamped at 100). Resumes from the newest checkpoint in the folder.
/// </summary>
public sealed class ClipTrainer : ContrastiveTrainer
{
    const ulong DataSalt = 0xC11D5EED;
    static readonly double MaxLogScale = Math.Log(100);

    static readonly Lock InitialisationLock = new();
    readonly ClipTrainerOptions options;
    readonly SceneStream data;

    public ClipTrainer(string outputFolder, ClipTrainerOptions options) : base(outputFolder, options)
    {
        this.options = options;
        data = new SceneStream(options.Seed, DataSalt, options.ScenePool);
        Tokenizer = ClipTokenizer.ForShapes(options.Text.ContextLength);
        lock (InitialisationLock)   // torch's generator is process-wide: seed and draw without interleaving
        {
            manual_seed(options.Seed);
            Vision = new AlphaClipVisionTransformer(options.Vision, ComputeDType);
            Text = new ClipTextTransformer(options.Text, Tokenizer, ComputeDType);
        }
        LogScale = new Parameter(tensor(Math.Log(options.InitialLogitScale), ScalarType.Float32), requires_grad: options.LearnLogitScale);
        var alphaConv = Vision.named_parameters().Single(p => p.name == AlphaClipCheckpoint.AlphaConvKey).parameter;
        using (no_grad()) alphaConv.zero_();
        alphaConv.requires_grad = false;   // stage 1 is plain CLIP: the alpha conv stays exactly zero

        var trainable = new List<TrainableParameter>();
        foreach (var (name, p) in Vision.named_parameters())
            if (name != AlphaClipCheckpoint.AlphaConvKey) trainable.Add(new("vision." + name, p, 1, DecayFor(name, p, options.WeightDecay)));
        foreach (var (name, p) in Text.named_parameters())
            trainable.Add(new("text." + name, p, 1, DecayFor(name, p, options.WeightDecay)));
        if (options.LearnLogitScale) trainable.Add(new("logit_scale", LogScale, 1, 0));
        Vision.train();
        Text.train();
        Initialise(trainable, new JsonObject { ["stage"] = Stage });
    }

    public override string Stage => "clip";

    public AlphaClipVisionTransformer Vision { get; }

    public ClipTextTransformer Text { get; }

    public ClipTokenizer Tokenizer { get; }

    /// <summary>The log of the logit scale (CLIP's parameterisation).</summary>
    public Parameter LogScale { get; }

    public override double CurrentLogitScale => Math.Exp(LogScale.ToDouble());

    /// <summary>The scenes of a (1-based) step: BatchSize train scenes.</summary>
    public IReadOnlyList<ShapesScene> BatchScenes(int step) =>
        Enumerable.Range(0, options.BatchSize).Select(i => ShapesGenerator.Generate(data.SceneSeed(step, i))).ToList();

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step)
    {
        var scenes = BatchScenes(step);
        var (captions, captionIndex) = ContrastiveLoss.Group(scenes.Select(s => s.Caption).ToList());
        var images = ShapesClipInputs.Images(scenes);
        var alphas = ShapesClipInputs.WholeAlphas(scenes.Count);
        var imageFeatures = Vision.forward(images, alphas);
        var (tokens, ends) = Tokenizer.EncodeBatch(captions);
        var textFeatures = Text.forward(tokens, ends);
        return ContrastiveLoss.Compute(imageFeatures, textFeatures, tensor(captionIndex), LogScale.exp());
    }

    private protected override void AfterUpdate()
    {
        using var _ = no_grad();
        LogScale.clamp_(0, MaxLogScale);
    }

    public override ZeroShotReport Evaluate(int scenes)
    {
        using var evaluator = ZeroShotEvaluator.Create(Vision, Text);
        return evaluator.Evaluate(ShapesSeeds.ValidationStart, scenes, [RegionAlphaMode.Whole]);
    }

    private protected override void WriteTowers(JsonObject notes)
    {
        ClipTowerFiles.SaveVision(WithMasterWeights(Vision.state_dict(), "vision."), Vision.Config, OutputFolder, notes);
        ClipTowerFiles.SaveText(WithMasterWeights(Text.state_dict(), "text."), Text.Config, Tokenizer, OutputFolder, CurrentLogitScale, notes);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        Vision.Dispose();
        Text.Dispose();
        LogScale.Dispose();
    }
}
