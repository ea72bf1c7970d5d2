using System.Diagnostics;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Vision;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace RegionChat.Inference;

/// <summary>
/// One loaded region-chat model: Alpha-CLIP vision tower + LLaVA projector + llama.cpp LLM, as its manifest wires them.
/// Image + region → visual tokens (<see cref="Encode"/>), and chats on the shared LLM context (<see cref="StartChat"/>);
/// callers run turns through <see cref="RegionChatCore"/>, which alone uses the projector, LLM and template. Thread-safe: vision encodes are serialised
/// (TorchSharp uses all its threads per forward), generation is scheduled
/// by the LLM engine across sequences.
/// </summary>
public sealed class RegionChatModel : IDisposable
{
    /// <summary>Held by every forward of the tower (tests hold it to keep a forward waiting).</summary>
    internal Lock VisionGate { get; } = new();

    readonly Lazy<RegionClassifier>? classifier;

    RegionChatModel(ModelManifest manifest, AlphaClipVisionTransformer vision, LlavaProjector projector, LlmEngine llm,
        ChatTemplate template, ClipPreprocessor preprocessor)
    {
        Manifest = manifest;
        Vision = vision;
        Projector = projector;
        Llm = llm;
        Template = template;
        Preprocessor = preprocessor;
        // Loaded on the first classification: a chat-only server never pays for the text tower.
        if (manifest.Classifier != null) classifier = new(() => RegionClassifier.Load(manifest, vision.Config.OutputDim));
    }

    /// <summary>True when the manifest declares a zero-shot classifier.</summary>
    public bool HasClassifier => classifier != null;

    /// <summary>The width of the classifier's joint space (Embed's vectors): the vision tower's projection.</summary>
    public int EmbeddingWidth => Vision.Config.OutputDim;

    /// <summary>The zero-shot classifier (loaded on first use); throws <see cref="InvalidOperationException"/> without one.</summary>
    public RegionClassifier Classifier => classifier?.Value
        ?? throw new InvalidOperationException($"model '{Id}' has no classifier section in its {ModelManifest.FileName}");

    public ModelManifest Manifest { get; }
    public string Id => Manifest.Id;
    public AlphaClipVisionTransformer Vision { get; }
    internal LlavaProjector Projector { get; }
    internal LlmEngine Llm { get; }
    internal ChatTemplate Template { get; }
    internal ClipPreprocessor Preprocessor { get; }
    /// <summary>Visual tokens per image: the patch grid, plus the CLS token with select_feature "cls_patch".</summary>
    public int VisualTokenCount => (Vision.Config.InputResolution / Vision.Config.PatchSize) * (Vision.Config.InputResolution / Vision.Config.PatchSize)
        + (IncludesCls ? 1 : 0);

    /// <summary>True when the manifest selects "cls_patch": the CLS token leads the visual tokens.</summary>
    public bool IncludesCls => Manifest.Vision.SelectFeature == "cls_patch";

    /// <summary>Where the vision tower and projector run (RegionChatModelOptions.VisionDevice resolved).</summary>
    public torch.Device VisionDevice { get; private init; } = torch.CPU;

    /// <summary>The vision tower's number type as resolved ("float32", "bfloat16", "float16"; <see cref="VisionPrecision"/>).</summary>
    public string VisionDtype { get; private init; } = "float32";

    /// <summary>llama.cpp's threads as resolved (<see cref="LlmThreadChoice"/>).</summary>
    public int LlmThreads { get; private init; } = 1;

    /// <summary>TorchSharp's threads after this model loaded (<see cref="VisionThreadChoice"/>; process-wide).</summary>
    public int VisionThreads { get; private init; } = 1;

    /// <summary>Visual tokens kept per image when a request sets no budget (RegionChatModelOptions.VisualTokenBudget);
    /// 0 = all.</summary>
    public int VisualTokenBudget { get; private init; }

    /// <summary>Loads the model a manifest describes. Widths must chain: vision width → projector → LLM n_embd.</summary>
    public static RegionChatModel Load(ModelManifest manifest, RegionChatModelOptions? options = null)
    {
        options ??= new RegionChatModelOptions();
        if (Accelerators.Check(options.VisionDevice, "VisionDevice") is { } bad) throw new ArgumentException(bad, nameof(options));
        if (options.VisionDtype.Length > 0 && VisionPrecision.Check(options.VisionDtype, "VisionDtype") is { } badDtype)
            throw new ArgumentException(badDtype, nameof(options));
        string dtypeName = VisionPrecision.Resolve(options.VisionDtype.Length > 0 ? options.VisionDtype : manifest.Vision.Dtype,
            Accelerators.Resolve(options.VisionDevice));
        var dtype = VisionPrecision.ScalarType(dtypeName);
        if (VisualTokenSelection.Check(options.VisualTokenBudget, manifest.Vision.SelectFeature == "cls_patch") is { } badBudget)
            throw new ArgumentException($"{manifest.Id}: VisualTokenBudget {badBudget}", nameof(options));
        var device = torch.device(Accelerators.Resolve(options.VisionDevice));
        AlphaClipConfig? config = manifest.Vision.Config is { } c ? AlphaClipConfig.FromJsonFile(manifest.Resolve(c, "vision.config")) : null;
        // Each part holds native memory: when a later step throws, the parts already made are disposed here.
        AlphaClipVisionTransformer? vision = null;
        LlavaProjector? projector = null;
        LlmEngine? llm = null;
        try
        {
            vision = AlphaClipVisionTransformer.Load(manifest.Resolve(manifest.Vision.Weights, "vision.weights"), config, dtype);
            vision.to(device).eval();
            vision.ResolveLayer(manifest.Vision.FeatureLayer); // a bad feature layer fails at load, not per request
            int visionThreads = VisionThreadChoice.Apply(VisionThreadChoice.For(vision.Config, options.Threads));

            if (manifest.Projector.Weights is { } pw) projector = LlavaProjector.Load(manifest.Resolve(pw, "projector.weights"));
            else
            {
                using var mm = MmprojFile.Open(manifest.Resolve(manifest.Projector.Mmproj!, "projector.mmproj"));
                var dict = mm.ReadProjectorStateDict();
                try { projector = LlavaProjector.FromStateDict(dict); }
                finally { foreach (var t in dict.Values) t.Dispose(); }
            }
            projector.to(device).eval();
            if (projector.InputDim != vision.Config.Width)
                throw new ModelManifestException($"{manifest.Id}: the projector takes width {projector.InputDim} but the vision tower " +
                    $"gives {vision.Config.Width}");

            string gguf = manifest.Resolve(manifest.Llm.Gguf, "llm.gguf");
            int llmThreads = LlmThreadChoice.Resolve(options.LlmThreads, gguf, options.Threads);
            llm = LlmEngine.Load(new LlmEngineOptions
            {
                ModelPath = gguf,
                ContextSize = options.ContextSize,
                BatchSize = options.BatchSize,
                MaxSequences = options.MaxSequences,
                OneShotSequences = options.OneShotSequences,
                Threads = llmThreads,
                BatchThreads = llmThreads,
                GpuLayers = options.GpuLayers,
            });
            llm.ValidateVisualWidth(projector.OutputDim);
            var template = ChatTemplate.Create(manifest.Llm.Template, llm.Facts);
            var pre = new ClipPreprocessor(new PreprocessOptions
            {
                Resolution = vision.Config.InputResolution,
                Mode = manifest.Vision.Preprocess == "crop" ? SquareMode.Crop : SquareMode.Pad,
            });
            return new RegionChatModel(manifest, vision, projector, llm, template, pre)
            {
                VisionDevice = device, VisionDtype = dtypeName, VisualTokenBudget = options.VisualTokenBudget, LlmThreads = llmThreads,
                VisionThreads = visionThreads,
            };
        }
        catch
        {
            llm?.Dispose();
            projector?.Dispose();
            vision?.Dispose();
            throw;
        }
    }

    /// <summary>Loads <c>dir/model.json</c>.</summary>
    public static RegionChatModel Load(string dir, RegionChatModelOptions? options = null) => Load(ModelManifest.Load(dir), options);

    /// <summary>Image + region (null = whole image) → projected visual tokens; <paramref name="visualTokenBudget"/> &gt; 0
    /// keeps that many (<see cref="VisualTokenSelection"/>), 0 all of them.</summary>
    public VisualTokens Encode(Image<Rgb24> image, Region? region, int visualTokenBudget = 0) =>
        EncodePreprocessed([Preprocess(image, region)], [visualTokenBudget])[0];

    /// <summary>Encodes several (image, region) pairs in one vision forward.</summary>
    public IReadOnlyList<VisualTokens> EncodeBatch(IReadOnlyList<(Image<Rgb24> Image, Region? Region)> items) =>
        EncodePreprocessed(items.Select(i => Preprocess(i.Image, i.Region)).ToArray());

    /// <summary>Rasterises the region and resizes image and mask to the tower's input (per request: errors such as an
    /// empty region or a mask of the wrong size surface here, for that request alone).</summary>
    public PreprocessedImage Preprocess(Image<Rgb24> image, Region? region, CancellationToken ct = default) => Preprocessor.Process(image, region, ct);

    /// <summary>The image's half of <see cref="Preprocess(Image{Rgb24}, Region?, CancellationToken)"/>, which every region
    /// of it shares: its pixels resized and normalised for the tower.</summary>
    internal float[] TowerPixels(Image<Rgb24> image) => Preprocessor.PixelValues(image);

    /// <summary>The inputs for a region of a <paramref name="width"/>×<paramref name="height"/> image from its
    /// <see cref="TowerPixels"/>: the same as <see cref="Preprocess(Image{Rgb24}, Region?, CancellationToken)"/>.</summary>
    internal PreprocessedImage Preprocess(float[] towerPixels, int width, int height, Region? region, CancellationToken ct = default) =>
        Preprocessor.WithRegion(towerPixels, width, height, region, ct);

    /// <summary>Runs the vision tower and projector on preprocessed inputs as one batch; <paramref name="budgets"/> (one per
    /// input, null = all 0) keeps that many visual tokens of an input. Without a budget below the token count the forward
    /// is the plain one; with one, the tower also returns its CLS attention at the feature layer for the selection.</summary>
    internal IReadOnlyList<VisualTokens> EncodePreprocessed(IReadOnlyList<PreprocessedImage> inputs, IReadOnlyList<int>? budgets = null)
    {
        if (inputs.Count == 0) return [];
        int r = CheckResolution(inputs);
        int total = VisualTokenCount;
        var effective = Enumerable.Range(0, inputs.Count).Select(i => VisualTokenSelection.Effective(budgets?[i] ?? 0, total)).ToArray();
        lock (VisionGate)
        {
            var sw = Stopwatch.StartNew();
            using var scope = torch.NewDisposeScope();
            var (pixels, alpha) = inputs.BatchTensors(VisionDevice);
            torch.Tensor features;
            float[]? scores = null;
            if (effective.All(b => b == 0)) features = Vision.PatchFeatures(pixels, alpha, Manifest.Vision.FeatureLayer, IncludesCls);
            else
            {
                (features, var attention) = Vision.PatchFeaturesWithClsAttention(pixels, alpha, Manifest.Vision.FeatureLayer, IncludesCls);
                scores = attention.cpu().contiguous().data<float>().ToArray();
            }
            // The region-position map (when the projector has one) reads the same alpha the tower saw.
            if (scores == null)
            {
                var projected = Projector.WithRegionPosition(Projector.Project(features), alpha).cpu().contiguous();
                int n = (int)projected.shape[1], width = (int)projected.shape[2];
                var all = projected.data<float>().ToArray();
                double ms = sw.Elapsed.TotalMilliseconds;
                // Each item gets its own array: a slice would keep the whole batch alive in the visual-token cache,
                // which counts only the slice's bytes (a soak grew RSS far past the cache bound that way).
                return Enumerable.Range(0, inputs.Count)
                    .Select(i => new VisualTokens(new EmbeddingBlock(all.AsSpan(i * n * width, n * width).ToArray(), width), ms)).ToArray();
            }
            // With a budget only the kept rows are projected: the projector is row-wise, and for LLaVA-1.5's
            // 1024 → 4096 → 4096 MLP, 144 of 576 rows is 6 of 24 GFLOP.
            int patches = (int)features.shape[1] - (IncludesCls ? 1 : 0);
            var kept = Enumerable.Range(0, inputs.Count).Select(i => effective[i] == 0 ? null : VisualTokenSelection.KeptRows(effective[i],
                scores.AsSpan(i * patches, patches), VisualTokenSelection.RegionPatches(inputs[i].Alpha, r, Vision.Config.PatchSize), IncludesCls)).ToArray();
            var rows = Enumerable.Range(0, inputs.Count).Select(i =>
            {
                var item = features[i].unsqueeze(0);
                if (kept[i] is not { } k) return item;
                using var index = torch.tensor(k.Select(x => (long)x).ToArray(), device: features.device);
                return item.index_select(1, index);
            }).ToArray();
            var blocks = rows.Select((x, i) => Projector.WithRegionPosition(Projector.Project(x), alpha[i..(i + 1)]).cpu().contiguous()).ToArray();
            double encodeMs = sw.Elapsed.TotalMilliseconds;
            return blocks.Select((b, i) => new VisualTokens(new EmbeddingBlock(b.data<float>().ToArray(), (int)b.shape[2]), encodeMs) { Kept = kept[i] })
                .ToArray();
        }
    }

    /// <summary>The tower's input resolution, which every input must have (this model's preprocessor makes them so).</summary>
    int CheckResolution(IReadOnlyList<PreprocessedImage> inputs)
    {
        int r = Preprocessor.Options.Resolution;
        if (inputs.Any(p => p.Resolution != r))
            throw new ArgumentException($"model '{Id}' takes {r}x{r} inputs, as its preprocessor makes them", nameof(inputs));
        return r;
    }

    /// <summary>The Alpha-CLIP tower's pooled features ln_post(CLS)·proj of preprocessed inputs, L2-normalised, one batch.</summary>
    public float[][] ImageFeatures(IReadOnlyList<PreprocessedImage> inputs)
    {
        if (inputs.Count == 0) return [];
        CheckResolution(inputs);
        lock (VisionGate)
        {
            using var scope = torch.NewDisposeScope();
            var (pixels, alpha) = inputs.BatchTensors(VisionDevice);
            var features = ClipZeroShot.Normalize(Vision.EncodePooled(pixels, alpha)).cpu().contiguous();
            int d = (int)features.shape[1];
            var flat = features.data<float>().ToArray();
            return Enumerable.Range(0, inputs.Count).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
        }
    }

    /// <summary>A new conversation on the shared LLM context; null system prompt = the manifest's, else the template's.</summary>
    internal ChatSession StartChat(string? systemPrompt = null, bool oneShot = false) =>
        new(Llm, Template, string.IsNullOrEmpty(systemPrompt) ? Manifest.Llm.SystemPrompt : systemPrompt, oneShot);

    /// <summary>The manifest's stop strings added to a request's own.</summary>
    internal SamplingParams WithModelStops(SamplingParams sampling) =>
        Manifest.Llm.Stop.Length == 0 ? sampling : sampling with { Stop = [.. sampling.Stop, .. Manifest.Llm.Stop.Except(sampling.Stop)] };

    public void Dispose()
    {
        Llm.Dispose();
        if (classifier is { IsValueCreated: true }) classifier.Value.Dispose();
        Vision.Dispose();
        Projector.Dispose();
    }
}
