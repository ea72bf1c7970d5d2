using System.Text.Json;
using System.Text.Json.Nodes;

namespace RegionChat.Training.Clip;

/// <summary>Dimensions of the CLIP text tower (a causal transformer read out at the end token).</summary>
public sealed record ClipTextConfig(int ContextLength, int VocabularySize, int Width, int Layers, int Heads, int OutputDim)
{
    const int MaxWidth = 16384, MaxLayers = 256, MaxContext = 4096, MaxVocabulary = 1_000_000;

    /// <summary>A text tower for the shapes vocabulary (<see cref="ClipTokenizer.ForShapes"/>).</summary>
    public static ClipTextConfig ForShapes(int width, int layers, int heads, int outputDim, int contextLength = ClipTokenizer.DefaultContextLength) =>
        new ClipTextConfig(contextLength, ClipTokenizer.ForShapes(contextLength).VocabularySize, width, layers, heads, outputDim).Validate();

    /// <summary>Throws ArgumentException naming the first impossible dimension.</summary>
    public ClipTextConfig Validate()
    {
        Check(ContextLength is >= 3 and <= MaxContext, $"context_length {ContextLength} must be in 3..{MaxContext}");
        Check(VocabularySize is >= 4 and <= MaxVocabulary, $"vocab_size {VocabularySize} must be in 4..{MaxVocabulary}");
        Check(Width is > 0 and <= MaxWidth, $"width {Width} must be in 1..{MaxWidth}");
        Check(Layers is > 0 and <= MaxLayers, $"layers {Layers} must be in 1..{MaxLayers}");
        Check(Heads > 0 && Width % Heads == 0, $"heads {Heads} must be positive and divide width {Width}");
        Check(OutputDim is > 0 and <= MaxWidth, $"output_dim {OutputDim} must be in 1..{MaxWidth}");
        return this;

        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException("CLIP text config: " + message);
        }
    }

    /// <summary>The JSON object of text.json: the dimensions, the vocabulary (id order) and optional extra keys.</summary>
    public JsonObject ToJson(ClipTokenizer tokenizer)
    {
        if (tokenizer.VocabularySize != VocabularySize || tokenizer.ContextLength != ContextLength)
            throw new ArgumentException($"tokenizer ({tokenizer.VocabularySize} tokens, context {tokenizer.ContextLength}) does not match the config " +
                $"({VocabularySize}, {ContextLength})");
        return new JsonObject
        {
            ["context_length"] = ContextLength, ["vocab_size"] = VocabularySize, ["width"] = Width,
            ["layers"] = Layers, ["heads"] = Heads, ["output_dim"] = OutputDim,
            ["vocabulary"] = new JsonArray(tokenizer.Vocabulary.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        };
    }

    /// <summary>Reads text.json: the dimensions and the tokenizer it describes. Other keys are ignored.</summary>
    public static (ClipTextConfig Config, ClipTokenizer Tokenizer) FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CLIP text config not found: {path}", path);
        if (new FileInfo(path).Length > 64L << 20) throw new InvalidDataException($"{path}: a 64 MB+ file is not a CLIP text config");
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidDataException("CLIP text config must be a JSON object");
            var config = new ClipTextConfig(Int(root, "context_length"), Int(root, "vocab_size"), Int(root, "width"),
                Int(root, "layers"), Int(root, "heads"), Int(root, "output_dim")).Validate();
            if (root["vocabulary"] is not JsonArray words || words.Any(w => w is not JsonValue v || v.GetValueKind() != JsonValueKind.String))
                throw new InvalidDataException("CLIP text config needs \"vocabulary\": an array of strings");
            var tokenizer = new ClipTokenizer(words.Select(w => w!.GetValue<string>()).ToArray(), config.ContextLength);
            if (tokenizer.VocabularySize != config.VocabularySize)
                throw new InvalidDataException($"vocabulary holds {tokenizer.VocabularySize} tokens but vocab_size is {config.VocabularySize}");
            return (config, tokenizer);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        static int Int(JsonObject root, string key)
        {
            if (root[key] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out int n))
                throw new InvalidDataException($"CLIP text config needs an integer \"{key}\"");
            return n;
        }
    }
}
