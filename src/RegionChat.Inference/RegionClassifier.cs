using System.Text.Json.Nodes;
using RegionChat.Data.Text;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Inference;

/// <summary>
/// A model's zero-shot classifier as its manifest's <c>classifier</c> section declares it: the CLIP text tower, its
/// tokenizer, the prompt templates (several are averaged: CLIP's prompt ensembling) and exp(logit_scale). Label text →
/// normalised features that the normalised pooled image features of the Alpha-CLIP tower are scored against.
/// Thread-safe (text forwards are serialised).
/// </summary>
public sealed class RegionClassifier : IDisposable
{
    readonly Lock gate = new();

    RegionClassifier(ClipTextTransformer text, IReadOnlyList<string> templates, double logitScale)
    {
        Text = text;
        Templates = templates;
        LogitScale = logitScale;
    }

    public ClipTextTransformer Text { get; }
    public IReadOnlyList<string> Templates { get; }
    /// <summary>exp(logit_scale): logits = LogitScale × cosine.</summary>
    public double LogitScale { get; }
    public int OutputDim => Text.Config.OutputDim;

    /// <summary>Loads the classifier a manifest declares; its output width must be the image tower's.</summary>
    public static RegionClassifier Load(ModelManifest manifest, int imageFeatureWidth)
    {
        var section = manifest.Classifier ?? throw new ModelManifestException($"{manifest.Id}: has no classifier section");
        string weights = manifest.Resolve(section.TextWeights, "classifier.text_weights");
        ClipTextConfig? config = null;
        IClipTokenizer? tokenizer = null;
        double? configScale = null;
        if (section.TextConfig is { } c)
        {
            string path = manifest.Resolve(c, "classifier.text_config");
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ModelManifestException($"{manifest.Id}: classifier.text_config is not a JSON object");
            if (root.ContainsKey("vocabulary"))
            {
                (config, var words) = ClipTextConfig.FromJsonFile(path);
                if (section.Tokenizer == "words") tokenizer = words;
                configScale = root["logit_scale"]?.GetValue<double>();
            }
            else config = ClipModelConfig.FromJsonFile(path).Text;
        }
        if (section.Tokenizer == "words" && tokenizer is null)
            throw new ModelManifestException($"{manifest.Id}: classifier.tokenizer \"words\" needs a text_config with a \"vocabulary\"");
        if (section.Tokenizer == "clip_bpe" && section.Vocab is { } vocab)
            tokenizer = ClipBpeTokenizer.FromFile(manifest.Resolve(vocab, "classifier.vocab"));
        var (text, weightsScale) = ClipTextTransformer.LoadCheckpoint(weights, config, tokenizer);
        if (text.Config.OutputDim != imageFeatureWidth)
        {
            text.Dispose();
            throw new ModelManifestException($"{manifest.Id}: the classifier's text tower gives {text.Config.OutputDim}-wide features but the vision " +
                $"tower {imageFeatureWidth}-wide");
        }
        return new RegionClassifier(text, section.Templates, section.LogitScale ?? weightsScale ?? configScale ?? 100);
    }

    /// <summary>The prompts of a label: each template with "{}" replaced by the label.</summary>
    public IEnumerable<string> Prompts(string label) => Templates.Select(t => t.Replace("{}", label, StringComparison.Ordinal));

    /// <summary>Throws <see cref="ArgumentException"/> when the tokenizer cannot represent a label's prompts.</summary>
    public void CheckLabel(string label)
    {
        foreach (string prompt in Prompts(label)) Text.Tokenizer.Tokenize(prompt);
    }

    /// <summary>Per label, the normalised mean of its prompts' normalised text features (one forward for all).</summary>
    public float[][] LabelFeatures(IReadOnlyList<string> labels)
    {
        if (labels.Count == 0) return [];
        var prompts = labels.SelectMany(Prompts).ToArray();
        lock (gate)
        {
            using var scope = NewDisposeScope();
            var features = Text.EncodeTexts(prompts);
            var ensembled = ClipZeroShot.Ensemble(features, labels.Count, Templates.Count).contiguous();
            var flat = ensembled.data<float>().ToArray();
            int d = OutputDim;
            return Enumerable.Range(0, labels.Count).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
        }
    }

    public void Dispose() => Text.Dispose();
}
