using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Data.Text;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat vision classify`: zero-shot CLIP / Alpha-CLIP on tensors, for checking against the reference. Tokenizes the
/// prompts of a labels file (CLIP BPE), runs the text tower and the Alpha-CLIP tower on the input's <c>image</c> and
/// <c>alpha</c> (or <c>mask</c>), and writes <c>tokens</c> int64 [labels, context], <c>text_features</c>,
/// <c>image_features</c> (unnormalised) and <c>logits</c> = exp(logit_scale) × cosine [images, labels].
/// </summary>
internal static class VisionClassifyCommand
{
    const string DefaultTemplate = "a photo of a {}.";

    public static Command Create()
    {
        var weights = new Option<string>("--weights")
        {
            Description = "CLIP checkpoint in OpenAI's layout (vision + text, e.g. clip.pth) or an Alpha-CLIP/CLIP visual checkpoint alone " +
                "(then give --text-weights).",
            Required = true,
        };
        var textWeights = new Option<string?>("--text-weights")
        {
            Description = "The text tower: OpenAI layout (.pth) or Hugging Face CLIPModel (text_model.*, .safetensors). Default: --weights.",
        };
        var config = new Option<string?>("--config") { Description = "CLIP config JSON (OpenAI build_model names; default: read off the weights)." };
        var labels = new Option<string>("--labels")
        {
            Description = $"JSON: {{\"labels\": [...], \"prompts\"?: [...]}} or an array of labels (prompts: \"{DefaultTemplate}\").",
            Required = true,
        };
        var input = new Option<string>("--input")
        {
            Description = "Input .safetensors with image [B,3,R,R] (normalised) and alpha (or mask).", Required = true,
        };
        var output = new Option<string>("--output") { Description = "Output .safetensors.", Required = true };
        var vocab = new Option<string?>("--vocab") { Description = "CLIP BPE merges (.txt.gz); default: the shipped bpe_simple_vocab_16e6." };
        var logitScale = new Option<double?>("--logit-scale") { Description = "exp(logit_scale) when the text weights hold none." };

        var command = new Command("classify", "Zero-shot classify image + alpha tensors over text labels with CLIP's text tower and Alpha-CLIP.");
        foreach (var o in new Option[] { weights, textWeights, config, labels, input, output, vocab, logitScale }) command.Options.Add(o);
        command.SetAction(parse => VisionCommands.Guard(() => Run(parse.GetValue(weights)!, parse.GetValue(textWeights), parse.GetValue(config),
            parse.GetValue(labels)!, parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(vocab), parse.GetValue(logitScale))));
        return command;
    }

    static int Run(string weightsPath, string? textWeightsPath, string? configPath, string labelsPath, string inputPath, string outputPath,
        string? vocabPath, double? logitScale)
    {
        var clock = Stopwatch.StartNew();
        var config = configPath is null ? new ClipModelConfig(null, null) : ClipModelConfig.FromJsonFile(configPath);
        var prompts = ReadPrompts(labelsPath);
        var tokenizer = vocabPath is null ? ClipBpeTokenizer.Default : ClipBpeTokenizer.FromFile(vocabPath);
        using var vision = AlphaClipVisionTransformer.Load(weightsPath, config.Vision);
        var (text, fileScale) = ClipTextTransformer.LoadCheckpoint(textWeightsPath ?? weightsPath, config.Text, tokenizer);
        using var textTower = text;
        double scale = fileScale ?? logitScale
            ?? throw new InvalidDataException($"{textWeightsPath ?? weightsPath}: holds no logit_scale; give --logit-scale (CLIP: 100)");

        using var scope = NewDisposeScope();
        var inputs = StateDictFile.Read(inputPath);
        var (image, alpha) = VisionEncodeCommand.Inputs(inputs, inputPath);
        double loadMs = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var tokenized = prompts.Select(textTower.Tokenizer.Tokenize).ToArray();
        var (tokens, ends) = ClipTextTransformer.Batch(tokenized);
        var textFeatures = textTower.EncodeTokens(tokens, ends);
        var imageFeatures = vision.EncodePooled(image, alpha);
        var logits = ClipZeroShot.Logits(imageFeatures, textFeatures, scale);
        var padded = zeros(tokenized.Length, textTower.Config.ContextLength, dtype: ScalarType.Int64);
        padded[.., ..(int)tokens.shape[1]] = tokens;
        var outputs = new List<KeyValuePair<string, Tensor>>
        {
            new("tokens", padded), new("text_features", textFeatures), new("image_features", imageFeatures), new("logits", logits),
        };
        double runMs = clock.Elapsed.TotalMilliseconds;

        StateDictFile.WriteSafetensors(outputPath, outputs);
        Console.WriteLine($"wrote {outputPath}: " + string.Join(", ", outputs.Select(o => $"{o.Key} [{string.Join(",", o.Value.shape)}]")) +
            $" ({prompts.Count} labels, logit scale {scale:G6}; load {loadMs:F0} ms, run {runMs:F0} ms)");
        return 0;
    }

    static IReadOnlyList<string> ReadPrompts(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"labels file not found: {path}", path);
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path));
            JsonArray? prompts = (root as JsonObject)?["prompts"] as JsonArray;
            JsonArray labels = root as JsonArray ?? (root as JsonObject)?["labels"] as JsonArray
                ?? throw new InvalidDataException("expected {\"labels\": [...]} or an array of labels");
            var result = (prompts ?? labels).Select(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                : throw new InvalidDataException("labels and prompts must be strings")).ToList();
            if (result.Count == 0) throw new InvalidDataException("no labels");
            if (prompts is not null && prompts.Count != labels.Count)
                throw new InvalidDataException($"{prompts.Count} prompts for {labels.Count} labels");
            return prompts is null ? result.Select(l => DefaultTemplate.Replace("{}", l, StringComparison.Ordinal)).ToList() : result;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
