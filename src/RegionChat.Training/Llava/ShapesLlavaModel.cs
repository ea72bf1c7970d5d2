using RegionChat.Data.Shapes;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Tokenization;
using RegionChat.Llm.Twin;
using RegionChat.Llm.Vocabulary;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava.Internal;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// The three trainable parts of the shapes LLaVA model together: the Alpha-CLIP vision tower (frozen in every LLaVA
/// stage), the mlp2x_gelu projector and the TorchSharp llama twin, with the prompt renderer of its vocabulary. Visual
/// tokens are LLaVA's: the vision tower's hidden state at <see cref="FeatureLayer"/> (−2), CLS dropped, projected.
/// The model owns its modules and disposes them.
/// </summary>
public sealed class ShapesLlavaModel : IDisposable
{
    /// <summary>LLaVA-1.5's mm_vision_select_layer.</summary>
    public const int DefaultFeatureLayer = -2;

    /// <summary>The file in a stage or model folder that records how visual tokens are taken from the tower.</summary>
    public const string FeatureFile = "llava.json";

    public ShapesLlavaModel(AlphaClipVisionTransformer vision, LlavaProjector projector, LlamaTwin llm, LlamaVocabulary vocabulary,
        string systemPrompt = ShapesText.SystemLine, int featureLayer = DefaultFeatureLayer, bool includeCls = false)
    {
        Vision = vision ?? throw new ArgumentNullException(nameof(vision));
        Projector = projector ?? throw new ArgumentNullException(nameof(projector));
        Llm = llm ?? throw new ArgumentNullException(nameof(llm));
        Vocabulary = vocabulary ?? throw new ArgumentNullException(nameof(vocabulary));
        if (projector.InputDim != vision.Config.Width)
            throw new ArgumentException($"the projector takes {projector.InputDim}-wide features but the vision tower is {vision.Config.Width} wide");
        if (projector.OutputDim != llm.Shape.EmbeddingLength)
            throw new ArgumentException($"the projector gives {projector.OutputDim}-wide tokens but the LLM is {llm.Shape.EmbeddingLength} wide");
        if (vocabulary.Count != llm.Shape.VocabSize)
            throw new ArgumentException($"the vocabulary has {vocabulary.Count} tokens but the LLM {llm.Shape.VocabSize}");
        vision.ResolveLayer(featureLayer);
        FeatureLayer = featureLayer;
        IncludesCls = includeCls;
        Tokenizer = LlamaTokenizer.FromVocabulary(vocabulary);
        Renderer = new LlavaPromptRenderer(Tokenizer, systemPrompt);
        // The world's longest sequence: a four-object description after "describe the image".
        string longestCaption = ShapesText.ImageCaption(Enumerable.Repeat("a large orange triangle", 4));
        int longest = Renderer.Render(ShapesText.DescribeImage, longestCaption).Length(ImageTokens);
        if (longest > llm.Shape.ContextLength)
            throw new ArgumentException($"{ImageTokens} visual tokens and the longest prompt and answer ({longest} positions) do not fit the LLM's context " +
                $"of {llm.Shape.ContextLength}");
    }

    public AlphaClipVisionTransformer Vision { get; }
    public LlavaProjector Projector { get; }
    public LlamaTwin Llm { get; }
    public LlamaVocabulary Vocabulary { get; }
    public LlamaTokenizer Tokenizer { get; }
    public LlavaPromptRenderer Renderer { get; }
    public int FeatureLayer { get; }

    /// <summary>LLaVA's "cls_patch": the CLS token leads the visual tokens (else "patch": CLS dropped).</summary>
    public bool IncludesCls { get; }

    /// <summary>LLaVA's mm_vision_select_feature name of <see cref="IncludesCls"/>.</summary>
    public string SelectFeature => IncludesCls ? "cls_patch" : "patch";

    /// <summary>Visual tokens per image: the vision tower's patch count.</summary>
    public int ImageTokens => Vision.Config.Grid * Vision.Config.Grid + (IncludesCls ? 1 : 0);

    /// <summary>Writes <see cref="FeatureFile"/> (feature layer and select feature) into a folder.</summary>
    public void SaveFeatureSelection(string folder) =>
        File.WriteAllText(Path.Combine(folder, FeatureFile),
            new System.Text.Json.Nodes.JsonObject { ["feature_layer"] = FeatureLayer, ["select_feature"] = SelectFeature }.ToJsonString() + "\n");

    /// <summary>
    /// The feature selection of a folder: a model folder's model.json (its "vision" section), else a stage folder's
    /// <see cref="FeatureFile"/>; neither: LLaVA-1.5's defaults (−2, "patch").
    /// </summary>
    public static (int FeatureLayer, bool IncludesCls) ReadFeatureSelection(string folder)
    {
        if (File.Exists(Path.Combine(folder, ShapesModelFiles.Manifest)))
        {
            var vision = RegionChat.Inference.ModelManifest.Load(folder).Vision;   // the manifest the server reads
            return (vision.FeatureLayer, vision.SelectFeature == "cls_patch");
        }
        string path = Path.Combine(folder, FeatureFile);
        if (!File.Exists(path)) return (DefaultFeatureLayer, false);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject
            ?? throw new InvalidDataException($"{path} is not a JSON object");
        int layer = json["feature_layer"]?.GetValue<int>() ?? DefaultFeatureLayer;
        string select = json["select_feature"]?.GetValue<string>() ?? "patch";
        if (select is not ("patch" or "cls_patch")) throw new InvalidDataException($"{path}: select_feature must be \"patch\" or " +
            $"\"cls_patch\", got \"{select}\"");
        return (layer, select == "cls_patch");
    }

    /// <summary>Loads vision.safetensors + vision.json, projector.safetensors and llm.gguf from a folder.</summary>
    public static ShapesLlavaModel Load(string folder)
    {
        var vision = ClipTowerFiles.LoadVision(folder);
        LlavaProjector? projector = null;
        LlamaTwin? llm = null;
        try
        {
            projector = LlavaProjector.Load(Path.Combine(folder, ShapesModelFiles.Projector));
            string gguf = Path.Combine(folder, ShapesModelFiles.Llm);
            llm = LlamaTwin.FromGguf(gguf);
            LlamaVocabulary vocabulary;
            using (var file = GgufFile.Open(gguf)) vocabulary = LlamaVocabulary.FromGguf(file);
            var (layer, cls) = ReadFeatureSelection(folder);
            return new ShapesLlavaModel(vision, projector, llm, vocabulary, featureLayer: layer, includeCls: cls);
        }
        catch
        {
            vision.Dispose();
            projector?.Dispose();
            llm?.Dispose();
            throw;
        }
    }

    /// <summary>The frozen vision tower's patch features [B, N, width] (no autograd).</summary>
    public Tensor PatchFeatures(IReadOnlyList<LlavaSample> samples)
    {
        if (samples.Count == 0) throw new ArgumentException("no samples", nameof(samples));
        using var scope = NewDisposeScope();
        var images = ShapesClipInputs.Images(samples.Select(s => s.Scene).ToList());
        var alphas = ShapesClipInputs.Alphas(samples.Select(s => s.Region).ToList(), samples.Select(s => s.Mode).ToList());
        return Vision.PatchFeatures(images, alphas, FeatureLayer, IncludesCls).MoveToOuterDisposeScope();
    }

    /// <summary>Projected visual tokens [B, N, D] (autograd through the projector as the caller sets it); a
    /// <paramref name="visualTokenBudget"/> below N keeps that many per image, chosen as the server chooses them
    /// (<see cref="RegionChat.Inference.VisualTokenSelection"/>: CLS, then region patches by CLS attention), in order.</summary>
    public Tensor VisualTokens(IReadOnlyList<LlavaSample> samples, int visualTokenBudget = 0)
    {
        using var scope = NewDisposeScope();
        if (samples.Count == 0) throw new ArgumentException("no samples", nameof(samples));
        Tensor features, attention, alphas;
        bool all = RegionChat.Inference.VisualTokenSelection.Effective(visualTokenBudget, ImageTokens) == 0;
        using (no_grad())
        {
            var images = ShapesClipInputs.Images(samples.Select(s => s.Scene).ToList());
            alphas = ShapesClipInputs.Alphas(samples.Select(s => s.Region).ToList(), samples.Select(s => s.Mode).ToList());
            if (all) (features, attention) = (Vision.PatchFeatures(images, alphas, FeatureLayer, IncludesCls), empty(0));
            else (features, attention) = Vision.PatchFeaturesWithClsAttention(images, alphas, FeatureLayer, IncludesCls);
        }
        // The region-position map (when the projector has one) adds the same vector to every row, as the server does.
        if (all) return Projector.WithRegionPosition(Projector.forward(features), alphas).MoveToOuterDisposeScope();
        int patches = ImageTokens - (IncludesCls ? 1 : 0), side = ShapesSpec.CanvasSize;
        var scores = attention.cpu().contiguous().data<float>().ToArray();
        var alphaPlanes = alphas.data<float>().ToArray();   // the alphas the tower saw, [B, 1, side, side]
        var kept = new long[samples.Count * visualTokenBudget];
        for (int i = 0; i < samples.Count; i++)
        {
            var alpha = alphaPlanes.AsSpan(i * side * side, side * side);
            var inRegion = RegionChat.Inference.VisualTokenSelection.RegionPatches(alpha, side, Vision.Config.PatchSize);
            var rows = RegionChat.Inference.VisualTokenSelection.KeptRows(visualTokenBudget, scores.AsSpan(i * patches, patches), inRegion, IncludesCls)!;
            for (int k = 0; k < rows.Length; k++) kept[i * visualTokenBudget + k] = rows[k];
        }
        using var index = tensor(kept, [samples.Count, visualTokenBudget, 1]).expand(-1, -1, features.shape[2]);
        return Projector.WithRegionPosition(Projector.forward(features.gather(1, index)), alphas).MoveToOuterDisposeScope();
    }

    /// <summary>Answer cross-entropy (answer tokens and EOS only) and token accuracy of a batch, with autograd (all visual
    /// tokens, or <paramref name="visualTokenBudget"/> as the server keeps them).</summary>
    public (Tensor Loss, Tensor Accuracy) Loss(IReadOnlyList<LlavaSample> samples, int visualTokenBudget = 0)
    {
        using var scope = NewDisposeScope();
        var visual = VisualTokens(samples, visualTokenBudget);
        var sequences = samples.Select(s => Renderer.Render(s.Question, s.Answer)).ToList();
        var (loss, accuracy) = LlavaLoss.Answers(Llm, visual, sequences, Vocabulary.EosId);
        return (loss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Answer cross-entropy and token accuracy of conversations (every answer and its EOS), with autograd: each turn
    /// that shows an image gets that image's visual tokens where the engine injects them (all of them, or
    /// <paramref name="visualTokenBudget"/> as the server keeps them).
    /// </summary>
    public (Tensor Loss, Tensor Accuracy) ChatLoss(IReadOnlyList<IReadOnlyList<LlavaChatTurn>> conversations, int visualTokenBudget = 0)
    {
        using var scope = NewDisposeScope();
        var shown = conversations.SelectMany(c => c.Where(t => t.ShowsImage).Select(t => t.Sample)).ToList();
        var visual = VisualTokens(shown, visualTokenBudget);
        var sequences = conversations.Select(Renderer.RenderChat).ToList();
        var (loss, accuracy) = LlavaLoss.Chat(Llm, visual, sequences);
        return (loss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>One image's visual tokens as row-major floats [N × D], what the inference engine injects.</summary>
    public float[] VisualTokenRows(LlavaSample sample)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return VisualTokens([sample]).contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Greedy answers through the twin, decoded as llama.cpp's detokenizer does (leading space dropped), up to EOS or
    /// <paramref name="maxTokens"/>. Samples asking the same question are decoded together.
    /// </summary>
    public IReadOnlyList<string> GreedyAnswers(IReadOnlyList<LlavaSample> samples, int maxTokens = 32, int batchSize = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var answers = new string[samples.Count];
        foreach (var group in Enumerable.Range(0, samples.Count).GroupBy(i => samples[i].Question))
            foreach (var chunk in group.Chunk(batchSize))
            {
                var ids = GreedyIds(chunk.Select(i => samples[i]).ToList(), group.Key, maxTokens);
                for (int j = 0; j < chunk.Length; j++) answers[chunk[j]] = Tokenizer.Decode(ids[j]);
            }
        return answers;
    }

    /// <summary>Greedy token ids (EOS excluded) for samples that all ask <paramref name="question"/>.</summary>
    public IReadOnlyList<int[]> GreedyIds(IReadOnlyList<LlavaSample> samples, string question, int maxTokens)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var prompt = Renderer.Prompt(question);
        int rows = samples.Count;
        var visual = VisualTokens(samples);
        using var prefix = tensor(prompt.BeforeImage.Select(i => (long)i).ToArray());
        var tokens = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var finished = new bool[rows];
        int budget = Math.Min(maxTokens, Llm.Shape.ContextLength - prompt.Length(ImageTokens));
        for (int step = 0; step < budget && !finished.All(f => f); step++)
        {
            using var stepScope = NewDisposeScope();
            var tail = TokenBatch.Ids(tokens.Select(t => (int[])[.. prompt.AfterImage, .. t]).ToList(), Vocabulary.EosId);
            var logits = Llm.Forward([LlamaTwinSegment.Tokens(prefix), LlamaTwinSegment.Embeddings(visual), LlamaTwinSegment.Tokens(tail)]);
            var next = logits[.., -1].argmax(-1).data<long>().ToArray();
            for (int b = 0; b < rows; b++)
            {
                if (finished[b]) { tokens[b].Add(Vocabulary.EosId); continue; }   // keeps the rows the same length
                if (next[b] == Vocabulary.EosId) { finished[b] = true; tokens[b].Add(Vocabulary.EosId); }
                else tokens[b].Add((int)next[b]);
            }
        }
        return tokens.Select(t => t.TakeWhile(id => id != Vocabulary.EosId).ToArray()).ToArray();
    }

    public void Dispose()
    {
        Vision.Dispose();
        Projector.Dispose();
        Llm.Dispose();
    }
}
