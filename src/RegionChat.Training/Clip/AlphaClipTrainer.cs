using System.Text.Json.Nodes;
using RegionChat.Training.Clip.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>One stage-2 training pair: a scene shown with a region alpha (or the whole image) and its caption.</summary>
public sealed record AlphaClipSample(ShapesScene Scene, ShapesObject? Region, RegionAlphaMode Mode, string Caption);

/// <summary>
/// Stage 2, Alpha-CLIP fine-tuning (paper §3.2): starting from a stage-1 folder, the whole image tower trains on region
/// captions paired with region alphas while the text tower stays frozen; conv1_alpha (zero at the start) learns at
/// <see cref="AlphaClipTrainerOptions.AlphaLearningRateMultiplier"/>× the rate of the rest; a fraction of each batch is
/// whole-image pairs. A batch takes every object of each scene it draws, so regions of the same image are each other's
/// negatives and the alpha must carry the difference; identical captions are merged (multi-positive InfoNCE).
/// The stage-1 towers are copied into <c>init/</c> of the output folder first, so the run is self-contained.
/// </summary>
public sealed class AlphaClipTrainer : ContrastiveTrainer
{
    public const string InitFolder = "init";
    const ulong DataSalt = 0xA1FAC11D, BoxSalt = 0xB0C5, SiblingSalt = 0x5181;

    readonly AlphaClipTrainerOptions options;
    readonly SceneStream data;
    readonly double logitScale;
    readonly Dictionary<string, Tensor> regionCaptionFeatures = new(StringComparer.Ordinal);

    /// <param name="clipFolder">A stage-1 output folder (vision.* and text.*); may be null when resuming (init/ exists).</param>
    public AlphaClipTrainer(string outputFolder, string? clipFolder, AlphaClipTrainerOptions options) : base(outputFolder, options)
    {
        this.options = options;
        data = new SceneStream(options.Seed, DataSalt, options.ScenePool);
        string init = Path.Combine(OutputFolder, InitFolder);
        if (!ClipTowerFiles.Exist(init)) CopyInit(clipFolder, init);
        Vision = ClipTowerFiles.LoadVision(init, ComputeDType);
        Text = ClipTowerFiles.LoadText(init);   // frozen: float32 whatever the precision, and its features cached
        logitScale = options.LogitScale ?? ClipTowerFiles.ReadLogitScale(init) ?? 100;
        foreach (var p in Text.parameters()) p.requires_grad = false;

        var trainable = Vision.named_parameters().Select(p => new TrainableParameter("vision." + p.name, p.parameter,
            p.name == AlphaClipCheckpoint.AlphaConvKey ? options.AlphaLearningRateMultiplier : 1,
            DecayFor(p.name, p.parameter, options.WeightDecay))).ToList();
        Vision.train();
        Initialise(trainable, new JsonObject { ["stage"] = Stage, ["init_from"] = clipFolder is null ? null : Path.GetFullPath(clipFolder) });
    }

    public override string Stage => "alpha-clip";

    public AlphaClipVisionTransformer Vision { get; }

    /// <summary>The frozen text tower (float32).</summary>
    public ClipTextTransformer Text { get; }

    public override double CurrentLogitScale => logitScale;

    /// <summary>
    /// The pairs of a (1-based) step: regions (every object of each drawn scene, in draw order) fill
    /// BatchSize − round(BatchSize · WholeImageFraction) places; the rest are the whole images of the first scenes.
    /// </summary>
    public IReadOnlyList<AlphaClipSample> BatchSamples(int step)
    {
        int wholeCount = (int)Math.Round(options.BatchSize * options.WholeImageFraction);
        int regionCount = options.BatchSize - wholeCount;
        var scenes = new List<ShapesScene>();
        var samples = new List<AlphaClipSample>(options.BatchSize);
        // Counterfactual siblings first: one object of a scene shown with each shape in turn (same scene otherwise).
        for (int g = 0; g < options.ShapeSiblingGroups; g++)
        {
            var scene = ShapesGenerator.Generate(data.SceneSeed(step, scenes.Count));
            scenes.Add(scene);
            int target = Math.Min((int)(data.Uniform(step, g, SiblingSalt) * scene.Objects.Count), scene.Objects.Count - 1);
            var mode = data.Uniform(step, g, BoxSalt ^ SiblingSalt) < options.BoxFraction ? RegionAlphaMode.Box : RegionAlphaMode.Mask;
            foreach (var kind in ShapeWords.AllShapes)
            {
                var variant = kind == scene.Objects[target].Shape ? scene : ShapesGenerator.WithShape(scene, target, kind);
                var o = variant.Objects[target];
                samples.Add(new AlphaClipSample(variant, o, mode, o.Caption));
            }
        }
        while (samples.Count < regionCount)
        {
            var scene = ShapesGenerator.Generate(data.SceneSeed(step, scenes.Count));
            scenes.Add(scene);
            foreach (var o in scene.Objects)
            {
                if (samples.Count == regionCount) break;
                var mode = data.Uniform(step, samples.Count, BoxSalt) < options.BoxFraction ? RegionAlphaMode.Box : RegionAlphaMode.Mask;
                samples.Add(new AlphaClipSample(scene, o, mode, o.Caption));
            }
        }
        for (int i = 0; i < wholeCount; i++)
        {
            if (i == scenes.Count) scenes.Add(ShapesGenerator.Generate(data.SceneSeed(step, scenes.Count)));
            samples.Add(new AlphaClipSample(scenes[i], null, RegionAlphaMode.Whole, scenes[i].Caption));
        }
        return samples;
    }

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step)
    {
        var samples = BatchSamples(step);
        var (captions, captionIndex) = ContrastiveLoss.Group(samples.Select(s => s.Caption).ToList());
        var images = ShapesClipInputs.Images(samples.Select(s => s.Scene).ToList());
        var alphas = ShapesClipInputs.Alphas(samples.Select(s => s.Region).ToList(), samples.Select(s => s.Mode).ToList());
        var imageFeatures = Vision.forward(images, alphas);
        var negatives = options.AllRegionCaptions ? ZeroShotEvaluator.ClassPrompts.Except(captions).ToList() : [];
        var textFeatures = TextFeatures([.. captions, .. negatives]);
        return ContrastiveLoss.Compute(imageFeatures, textFeatures, tensor(captionIndex), tensor(logitScale, ScalarType.Float32), captions.Count);
    }

    // The text tower is frozen, so a caption's features never change. The 60 region captions are encoded once, in one
    // fixed batch (a row's float rounding can depend on its batch, and a resumed run must see the same numbers); the
    // whole-image captions of a step are encoded together, a batch fixed by the step.
    Tensor TextFeatures(IReadOnlyList<string> captions)
    {
        if (regionCaptionFeatures.Count == 0)
        {
            using var all = Text.EncodeTexts(ZeroShotEvaluator.ClassPrompts);
            for (int i = 0; i < all.shape[0]; i++)
                regionCaptionFeatures[ZeroShotEvaluator.ClassPrompts[i]] = all[i].clone().DetachFromDisposeScope();
        }
        var wholeCaptions = captions.Where(c => !regionCaptionFeatures.ContainsKey(c)).ToList();
        var wholeFeatures = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (wholeCaptions.Count > 0)
        {
            var features = Text.EncodeTexts(wholeCaptions);
            for (int i = 0; i < wholeCaptions.Count; i++) wholeFeatures[wholeCaptions[i]] = features[i];
        }
        return stack(captions.Select(c => regionCaptionFeatures.TryGetValue(c, out var t) ? t : wholeFeatures[c]).ToArray());
    }

    public override ZeroShotReport Evaluate(int scenes)
    {
        using var evaluator = ZeroShotEvaluator.Create(Vision, Text);
        return evaluator.Evaluate(ShapesSeeds.ValidationStart, scenes, [RegionAlphaMode.Whole, RegionAlphaMode.Box, RegionAlphaMode.Mask]);
    }

    private protected override void WriteTowers(JsonObject notes)
    {
        ClipTowerFiles.SaveVision(Optimizer.WithMasterWeights(Vision.state_dict(), "vision."), Vision.Config, OutputFolder, notes);
        ClipTowerFiles.SaveText(Text, OutputFolder, ClipTowerFiles.ReadLogitScale(Path.Combine(OutputFolder, InitFolder)),
            new JsonObject { ["stage"] = "clip", ["note"] = "frozen during alpha-clip: a copy of init/text.*" });
    }

    static void CopyInit(string? clipFolder, string init)
    {
        if (clipFolder is null)
            throw new ArgumentException("a new alpha-clip run needs the stage-1 (clip) folder to start from");
        if (!ClipTowerFiles.Exist(clipFolder))
            throw new ArgumentException($"{clipFolder} does not hold a stage-1 model " +
                $"({ClipTowerFiles.VisionWeights}, {ClipTowerFiles.VisionConfig}, {ClipTowerFiles.TextWeights}, {ClipTowerFiles.TextConfig})");
        string partial = init + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        foreach (string f in new[] { ClipTowerFiles.VisionWeights, ClipTowerFiles.VisionConfig, ClipTowerFiles.TextWeights, ClipTowerFiles.TextConfig })
            File.Copy(Path.Combine(clipFolder, f), Path.Combine(partial, f));
        if (Directory.Exists(init)) Directory.Delete(init, recursive: true);
        Directory.Move(partial, init);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        Vision.Dispose();
        Text.Dispose();
        foreach (var t in regionCaptionFeatures.Values) t.Dispose();
        regionCaptionFeatures.Clear();
    }
}
