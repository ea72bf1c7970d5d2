using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RegionChat.Data.Text;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>Dimensions of the CLIP text tower (a causal transformer read out at the end token): the shapes model's
/// (text.json, a closed word list) and OpenAI CLIP's (49,408 BPE ids, 77 positions).</summary>
public sealed partial record ClipTextConfig(int ContextLength, int VocabularySize, int Width, int Layers, int Heads, int OutputDim)
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

    [GeneratedRegex(@"^transformer\.resblocks\.(\d+)\.")]
    private static partial Regex BlockKey();

    /// <summary>
    /// Reads the dimensions off a text state dict with OpenAI's names (<see cref="ClipTextCheckpoint.Normalize"/>):
    /// vocabulary and width from <c>token_embedding.weight</c>, context from <c>positional_embedding</c>, output from
    /// <c>text_projection</c>, layers from the blocks; heads as given, else width/64 (OpenAI's <c>build_model</c>).
    /// </summary>
    public static ClipTextConfig InferFrom(IReadOnlyDictionary<string, Tensor> weights, int? heads = null)
    {
        var embedding = Get("token_embedding.weight");
        var positions = Get("positional_embedding");
        var projection = Get("text_projection");
        var blocks = weights.Keys.Select(k => BlockKey().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
        if (blocks.Count == 0) throw new InvalidDataException("text weights have no transformer.resblocks.N.* entries");
        int width = (int)embedding.shape[1];
        if (heads is null && width % 64 != 0)
            throw new InvalidDataException($"text width {width} is not a multiple of 64: give the number of heads (a config)");
        try
        {
            return new ClipTextConfig((int)positions.shape[0], (int)embedding.shape[0], width, blocks.Max() + 1, heads ?? width / 64,
                (int)projection.shape[1]).Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        Tensor Get(string key) => weights.TryGetValue(key, out var t) && t.dim() == 2 ? t
            : throw new InvalidDataException($"text weights lack a 2-d '{key}'");
    }

    /// <summary>
    /// The text dimensions of a CLIP model config: OpenAI's <c>build_model</c> names (<c>context_length</c>,
    /// <c>vocab_size</c>, <c>transformer_width</c> or <c>text_width</c>, <c>transformer_heads</c> or <c>text_heads</c>,
    /// <c>transformer_layers</c> or <c>text_layers</c>, <c>embed_dim</c>) or a Hugging Face <c>CLIPConfig</c>
    /// (<c>text_config</c>: <c>max_position_embeddings</c>, <c>vocab_size</c>, <c>hidden_size</c>,
    /// <c>num_attention_heads</c>, <c>num_hidden_layers</c>; <c>projection_dim</c>). Null when it holds neither.
    /// </summary>
    public static ClipTextConfig? FromClipJson(JsonObject root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root["text_config"] is JsonObject hf)
            return new ClipTextConfig(Int(hf, "max_position_embeddings") ?? 77, Int(hf, "vocab_size") ?? 49408,
                Need(Int(hf, "hidden_size"), "text_config.hidden_size"),
                Need(Int(hf, "num_hidden_layers"), "text_config.num_hidden_layers"), Need(Int(hf, "num_attention_heads"), "text_config.num_attention_heads"),
                Need(Int(root, "projection_dim") ?? Int(hf, "projection_dim"), "projection_dim")).Validate();
        int? width = Int(root, "transformer_width") ?? Int(root, "text_width");
        if (width is null) return null;
        return new ClipTextConfig(Int(root, "context_length") ?? 77, Int(root, "vocab_size") ?? 49408, width.Value,
            Need(Int(root, "transformer_layers") ?? Int(root, "text_layers"), "transformer_layers (or text_layers)"),
            Int(root, "transformer_heads") ?? Int(root, "text_heads") ?? width.Value / 64,
            Need(Int(root, "embed_dim"), "embed_dim")).Validate();

        static int Need(int? value, string key) => value ?? throw new InvalidDataException($"CLIP config lacks \"{key}\"");

        static int? Int(JsonObject o, string key) => o[key] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) => n,
            var other => throw new InvalidDataException($"CLIP config \"{key}\" must be an integer, got {other.ToJsonString()}"),
        };
    }
}
