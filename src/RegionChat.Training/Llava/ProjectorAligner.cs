using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.Training.Clip;
using RegionChat.Training.Clip.Internal;
using RegionChat.Training.Llava.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// Stage 4, projector alignment (LLaVA's stage 1): the vision tower and the LLM are frozen; a fresh mlp2x_gelu projector
/// (vision width → LLM width) learns from region captions ("describe this region" with the visible-mask alpha, and a
/// fraction of whole-image captions with the all-ones alpha), the loss on the answer tokens and EOS only.
/// Inputs (copied to init/): vision.safetensors + vision.json (+ text.* when present) and llm.gguf.
/// Output: projector.safetensors (LLaVA key names).
/// </summary>
public sealed class ProjectorAligner : LlavaTrainer
{
    const ulong DataSalt = 0xA119;
    static readonly string[] WholeQuestions = [ShapesText.DescribeImage];
    static readonly string[] RegionQuestions = [ShapesText.DescribeRegion];

    readonly ProjectorAlignOptions options;
    readonly LlavaSampler sampler;

    /// <param name="visionFolder">Folder holding vision.safetensors + vision.json (and optionally text.*); null when resuming.</param>
    /// <param name="llmFolder">Folder holding the stage-3 llm.gguf; null when resuming.</param>
    public ProjectorAligner(string outputFolder, ProjectorAlignOptions options, string? visionFolder, string? llmFolder)
        : base(outputFolder, options)
    {
        this.options = options;
        sampler = new LlavaSampler(options.Seed, DataSalt, options.ScenePool);
        if (!Directory.Exists(Path.Combine(OutputFolder, InitFolder)))
        {
            if (visionFolder is null || llmFolder is null)
                throw new ArgumentException("a new projector run needs the vision tower folder and the stage-3 LLM folder");
            PrepareInit(InputFiles(visionFolder, llmFolder));
        }
        var vision = ClipTowerFiles.LoadVision(Path.Combine(OutputFolder, InitFolder));
        var llm = LlamaTwin.FromGguf(InitPath(ShapesModelFiles.Llm));
        LlamaVocabulary vocabulary;
        using (var gguf = GgufFile.Open(InitPath(ShapesModelFiles.Llm))) vocabulary = LlamaVocabulary.FromGguf(gguf);
        var projector = new LlavaProjector(vision.Config.Width, llm.Shape.EmbeddingLength, depth: 2);
        InitialiseProjector(projector, options.Seed);
        Model = new ShapesLlavaModel(vision, projector, llm, vocabulary, includeCls: options.IncludeCls);
        double outputScale = MatchTokenScale();
        foreach (var p in vision.parameters()) p.requires_grad = false;
        foreach (var p in llm.parameters()) p.requires_grad = false;
        projector.train();
        var trainable = projector.named_parameters().Select(p => new TrainableParameter("projector." + p.name, p.parameter,
            LrMultiplier(projector, p.name, outputScale), DecayFor(p.name, p.parameter, options.WeightDecay)));
        Initialise(trainable, new JsonObject
        {
            ["vision_from"] = visionFolder is null ? null : Path.GetFullPath(visionFolder),
            ["llm_from"] = llmFolder is null ? null : Path.GetFullPath(llmFolder),
            ["vision"] = JsonNode.Parse(vision.Config.ToJson()),
            ["projector_output_scale"] = Math.Round(outputScale, 6),
        });
    }

    public override string Stage => "projector";

    public ShapesLlavaModel Model { get; }

    /// <summary>
    /// nn.Linear's default initialisation (uniform ±1/√fan_in for weights and biases) drawn from a generator of its own,
    /// so the start does not depend on torch's global generator (which other code may draw from).
    /// </summary>
    static void InitialiseProjector(LlavaProjector projector, long seed)
    {
        using var noGrad = torch.no_grad();
        using var generator = new torch.Generator((ulong)seed ^ 0x9A0EC7);
        foreach (var (name, p) in projector.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            var weight = projector.named_parameters().Single(q => q.name == name[..name.LastIndexOf('.')] + ".weight").parameter;
            double bound = 1 / Math.Sqrt(weight.shape[1]);
            p.uniform_(-bound, bound, generator);
        }
    }

    /// <summary>
    /// Scales the projector's last Linear so that its first visual tokens have the RMS of the LLM's token embeddings.
    /// With nn.Linear's default start the visual tokens are an order of magnitude larger than word embeddings, and a pre-trained tiny
    /// LLM then hardly learns to read them (measured: colour questions stuck at the prior for 150 steps, solved in
    /// ~100 steps at matched scale). The scale comes from step 1's batch, so it is deterministic.
    /// </summary>
    double MatchTokenScale()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var tokens = Model.VisualTokens(BatchSamples(1));
        double visual = tokens.square().mean().sqrt().ToDouble();
        double words = Model.Llm.TokenEmbeddingWeight.square().mean().sqrt().ToDouble();
        if (!(visual > 0) || !double.IsFinite(visual)) return 1;
        string last = $"{2 * (Model.Projector.Depth - 1)}.";
        foreach (var (name, p) in Model.Projector.named_parameters())
            if (name.StartsWith(last, StringComparison.Ordinal)) p.mul_(words / visual);
        return words / visual;
    }

    /// <summary>
    /// The learning-rate multiplier of a projector tensor in this stage: the output scale for the last Linear, 1 for
    /// the others. Adam's steps have a fixed size whatever a weight's scale, so the shrunken last layer takes
    /// proportionally smaller steps; otherwise the frozen LLM's pull blows its outputs back up within a few dozen steps
    /// (measured: such a projector left instruction tuning stuck at the answer prior).
    /// </summary>
    public static double LrMultiplier(LlavaProjector projector, string name, double outputScale) =>
        name.StartsWith($"{2 * (projector.Depth - 1)}.", StringComparison.Ordinal) ? outputScale : 1;

    /// <summary>The input files a stage-4 run copies: the vision (and text) tower and the LLM.</summary>
    public static IReadOnlyList<(string Source, string Name)> InputFiles(string visionFolder, string llmFolder)
    {
        if (!ShapesModelFiles.HasVision(visionFolder))
            throw new ArgumentException($"{visionFolder} holds no vision tower ({ClipTowerFiles.VisionWeights} + {ClipTowerFiles.VisionConfig})");
        string llm = Path.Combine(llmFolder, ShapesModelFiles.Llm);
        if (!File.Exists(llm)) throw new ArgumentException($"{llmFolder} holds no {ShapesModelFiles.Llm} (run stage llm first)");
        var files = new List<(string, string)>
        {
            (Path.Combine(visionFolder, ClipTowerFiles.VisionWeights), ClipTowerFiles.VisionWeights),
            (Path.Combine(visionFolder, ClipTowerFiles.VisionConfig), ClipTowerFiles.VisionConfig),
            (llm, ShapesModelFiles.Llm),
        };
        if (ShapesModelFiles.HasText(visionFolder))
        {
            files.Add((Path.Combine(visionFolder, ClipTowerFiles.TextWeights), ClipTowerFiles.TextWeights));
            files.Add((Path.Combine(visionFolder, ClipTowerFiles.TextConfig), ClipTowerFiles.TextConfig));
        }
        return files;
    }

    /// <summary>The samples of a (1-based) step.</summary>
    public IReadOnlyList<LlavaSample> BatchSamples(int step) =>
        Enumerable.Range(0, options.BatchSize)
            .Select(i => sampler.Draw(step, i, options.WholeImageFraction, options.BoxFraction, WholeQuestions, RegionQuestions)).ToList();

    private protected override (Tensor Loss, Tensor Accuracy) ComputeLoss(int step) => Model.Loss(BatchSamples(step));

    /// <summary>Greedy describe-this-region / describe-the-image accuracy on validation scenes.</summary>
    public override JsonObject? Evaluate(int scenes)
    {
        var samples = ShapesLlavaEvaluator.Samples(ShapesSeeds.ValidationStart, scenes, [RegionAlphaMode.Whole, .. options.EvalModes])
            .Where(s => s.Question is ShapesText.DescribeRegion or ShapesText.DescribeImage).ToList();
        var report = ShapesLlavaEvaluator.Score(ShapesSeeds.ValidationStart, scenes, samples, Model.GreedyAnswers(samples));
        var json = report.ToJson();
        json["split"] = "validation";
        return json;
    }

    private protected override void WriteOutputs(JsonObject notes)
    {
        ShapesModelFiles.SaveProjector(Model.Projector, Path.Combine(OutputFolder, ShapesModelFiles.Projector));
        Model.SaveFeatureSelection(OutputFolder);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Model.Dispose();
    }
}
