using System.Text.Json.Nodes;
using RegionChat.Training.Clip.Internal;
using RegionChat.Data.Shapes;
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
    const ulong DataSalt = 0xC11D5EED, NegativeObjectSalt = 0x0B1EC7, NegativeAttributeSalt = 0xA77B, NegativeValueSalt = 0x7A1E;
    static readonly double MaxLogScale = Math.Log(100);
    // Static roots: a temporary Scalar can be finalised mid-call (RootedScalars says why).
    static readonly Scalar LogScaleFloor = 0, LogScaleCeiling = MaxLogScale;

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

    /// <summary>
    /// The scenes of a (1-based) step: BatchSize train scenes from the step's stream, of which
    /// round(BatchSize · SingleObjectFraction) are single-object scenes (found by skipping other scenes; a pool
    /// without enough of them is topped up with any scenes after 64 · BatchSize draws).
    /// </summary>
    public IReadOnlyList<ShapesScene> BatchScenes(int step)
    {
        var batch = new List<ShapesScene>(options.BatchSize);
        int i = 0;
        // Counterfactual siblings first: a single-object scene drawn once per shape, identical but for the shape.
        int shapes = ShapeWords.AllShapes.Count;
        for (int groups = 0; groups < options.ShapeSiblingGroups; i++)
        {
            var scene = ShapesGenerator.Generate(data.SceneSeed(step, i));
            if (scene.Objects.Count != 1 && i < 64 * options.BatchSize) continue;
            var first = scene.Objects[0];
            foreach (var kind in ShapeWords.AllShapes)
                batch.Add(kind == first.Shape ? scene : ShapesGenerator.WithShape(scene, 0, kind));
            groups++;
        }
        int rest = options.BatchSize - batch.Count;
        int singles = (int)Math.Round(rest * options.SingleObjectFraction), others = rest - singles;
        for (; batch.Count < options.BatchSize; i++)
        {
            var scene = ShapesGenerator.Generate(data.SceneSeed(step, i));
            bool single = scene.Objects.Count == 1;
            if (single && singles > 0) singles--;
            else if (others > 0 || i >= 64 * options.BatchSize) others--;
            else continue;
            batch.Add(scene);
        }
        return batch;
    }

    /// <summary>
    /// The hard negative captions of a step's batch: per scene, <see cref="ClipTrainerOptions.HardNegatives"/> copies
    /// of its caption with one attribute of one object changed; those equal to a caption of the batch are dropped.
    /// </summary>
    public IReadOnlyList<string> HardNegativeCaptions(int step, IReadOnlyList<ShapesScene> scenes)
    {
        var positives = scenes.Select(s => s.Caption).ToHashSet(StringComparer.Ordinal);
        var negatives = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < scenes.Count; i++)
            for (int k = 0; k < options.HardNegatives; k++)
            {
                int draw = i * options.HardNegatives + k;
                string caption = ChangeOneAttribute(scenes[i], data.Uniform(step, draw, NegativeObjectSalt),
                    data.Uniform(step, draw, NegativeAttributeSalt), data.Uniform(step, draw, NegativeValueSalt));
                if (!positives.Contains(caption) && seen.Add(caption)) negatives.Add(caption);
            }
        return negatives;
    }

    static string ChangeOneAttribute(ShapesScene scene, double whichObject, double whichAttribute, double whichValue)
    {
        var objects = scene.ObjectsLeftToRight;
        int target = Math.Min((int)(whichObject * objects.Count), objects.Count - 1);
        var parts = objects.Select(o => o.Caption).ToArray();
        var o = objects[target];
        var (size, color, shape) = (o.Size, o.Color, o.Shape);
        int shapes = ShapeWords.AllShapes.Count, colors = ShapeWords.AllColors.Count;
        switch (Math.Min((int)(whichAttribute * 3), 2))
        {
            case 0: shape = (ShapeKind)(((int)shape + 1 + Math.Min((int)(whichValue * (shapes - 1)), shapes - 2)) % shapes); break;
            case 1: color = (ShapeColor)(((int)color + 1 + Math.Min((int)(whichValue * (colors - 1)), colors - 2)) % colors); break;
            default: size = size == ShapeSize.Small ? ShapeSize.Large : ShapeSize.Small; break;
        }
        parts[target] = ShapesText.RegionCaption(size, color, shape);
        return ShapesText.ImageCaption(parts);
    }

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step)
    {
        var scenes = BatchScenes(step);
        var (captions, captionIndex) = ContrastiveLoss.Group(scenes.Select(s => s.Caption).ToList());
        var images = ShapesClipInputs.Images(scenes);
        var alphas = ShapesClipInputs.WholeAlphas(scenes.Count);
        var imageFeatures = Vision.forward(images, alphas);
        var (tokens, ends) = ClipTextTransformer.Batch([.. captions.Concat(HardNegativeCaptions(step, scenes)).Select(Tokenizer.Tokenize)]);
        var textFeatures = Text.forward(tokens, ends);
        return ContrastiveLoss.Compute(imageFeatures, textFeatures, tensor(captionIndex), LogScale.exp(), captions.Count);
    }

    private protected override void AfterUpdate()
    {
        using var _ = no_grad();
        LogScale.clamp_(LogScaleFloor, LogScaleCeiling);
    }

    public override ZeroShotReport Evaluate(int scenes)
    {
        using var evaluator = ZeroShotEvaluator.Create(Vision, Text);
        return evaluator.Evaluate(ShapesSeeds.ValidationStart, scenes, [RegionAlphaMode.Whole]);
    }

    private protected override void WriteTowers(JsonObject notes)
    {
        ClipTowerFiles.SaveVision(Optimizer.WithMasterWeights(Vision.state_dict(), "vision."), Vision.Config, OutputFolder, notes);
        ClipTowerFiles.SaveText(Optimizer.WithMasterWeights(Text.state_dict(), "text."), Text.Config, Tokenizer, OutputFolder, CurrentLogitScale, notes);
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
