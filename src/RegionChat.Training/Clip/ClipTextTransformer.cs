using RegionChat.Training.Clip.Internal;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// CLIP's text tower at small scale: token + positional embeddings, causal pre-LN blocks (the vision tower's block
/// layout: ln_1, attn.in_proj, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj, QuickGELU), ln_final, and the features of
/// the end token projected by <c>text_projection</c>. State-dict names: <c>token_embedding.weight</c>,
/// <c>positional_embedding</c>, <c>transformer.resblocks.N.*</c>, <c>ln_final.*</c>, <c>text_projection</c>.
/// </summary>
public sealed class ClipTextTransformer : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // names are the state-dict keys
    readonly Embedding token_embedding;
    readonly Parameter positional_embedding;
    readonly TextTransformerStack transformer;
    readonly LayerNorm ln_final;
    readonly Parameter text_projection;
#pragma warning restore IDE1006

    public ClipTextConfig Config { get; }

    public ClipTokenizer Tokenizer { get; }

    public ScalarType DType { get; }

    /// <summary>A randomly initialised tower (CLIP's init scales for embeddings and projection).</summary>
    public ClipTextTransformer(ClipTextConfig config, ClipTokenizer tokenizer, ScalarType dtype = ScalarType.Float32) : base("text")
    {
        Config = config.Validate();
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabularySize != config.VocabularySize || tokenizer.ContextLength != config.ContextLength)
            throw new ArgumentException($"tokenizer ({tokenizer.VocabularySize} tokens, context {tokenizer.ContextLength}) does not match the text config " +
                $"({config.VocabularySize}, {config.ContextLength})");
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
            throw new ArgumentException($"dtype {dtype} is not a floating type");
        Tokenizer = tokenizer;
        DType = dtype;
        int w = config.Width;
        token_embedding = nn.Embedding(config.VocabularySize, w, dtype: dtype);
        positional_embedding = nn.Parameter((randn(config.ContextLength, w) * 0.01).to(dtype));
        transformer = new TextTransformerStack(w, config.Layers, config.Heads, dtype);
        ln_final = nn.LayerNorm(w, eps: 1e-5, dtype: dtype);
        text_projection = nn.Parameter((randn(w, config.OutputDim) * Math.Pow(w, -0.5)).to(dtype));
        using (no_grad()) token_embedding.weight!.normal_(0, 0.02);
        RegisterComponents();
        eval();
    }

    /// <summary>Reads text.safetensors with the config and vocabulary of text.json.</summary>
    public static ClipTextTransformer Load(string weightsPath, string configPath, ScalarType dtype = ScalarType.Float32)
    {
        var (config, tokenizer) = ClipTextConfig.FromJsonFile(configPath);
        var raw = RegionChat.Vision.StateDictFile.ReadSafetensors(weightsPath);
        var model = new ClipTextTransformer(config, tokenizer, dtype);
        try
        {
            model.LoadWeights(raw);
            return model;
        }
        catch (InvalidDataException e)
        {
            model.Dispose();
            throw new InvalidDataException($"{weightsPath}: {e.Message}", e);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>Copies a state dict into the tower after checking every name and shape.</summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var target = state_dict();
        var missing = target.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"text weights lack '{missing[0]}'"
            + (missing.Count > 1 ? $" and {missing.Count - 1} more" : ""));
        var unexpected = stateDict.Keys.Where(k => !target.ContainsKey(k)).ToList();
        if (unexpected.Count > 0) throw new InvalidDataException($"text weights have unexpected '{unexpected[0]}'"
            + (unexpected.Count > 1 ? $" and {unexpected.Count - 1} more" : ""));
        foreach (var (key, t) in target)
        {
            var s = stateDict[key];
            if (!s.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"text tensor '{key}' has shape [{string.Join(", ", s.shape)}] but the tower needs " +
                    $"[{string.Join(", ", t.shape)}]");
            if (!is_floating_point(s)) throw new InvalidDataException($"text tensor '{key}' has non-float dtype {s.dtype}");
        }
        using var _ = no_grad();
        load_state_dict(stateDict.ToDictionary(kv => kv.Key, kv => kv.Value), strict: true);
    }

    /// <summary>
    /// Text features in the model dtype, with autograd as the caller sets it: tokens int64 [B, L] (L ≤ context length),
    /// end-token positions int64 [B] → [B, OutputDim].
    /// </summary>
    public override Tensor forward(Tensor tokens, Tensor endPositions)
    {
        if (tokens.dim() != 2 || tokens.shape[1] < 1 || tokens.shape[1] > Config.ContextLength || tokens.shape[0] < 1)
            throw new ArgumentException($"tokens must be [batch, 1..{Config.ContextLength}], got [{string.Join(", ", tokens.shape)}]", nameof(tokens));
        if (endPositions.dim() != 1 || endPositions.shape[0] != tokens.shape[0])
            throw new ArgumentException($"endPositions must be [{tokens.shape[0]}], got [{string.Join(", ", endPositions.shape)}]", nameof(endPositions));
        long batch = tokens.shape[0], length = tokens.shape[1];
        using var scope = NewDisposeScope();
        var x = token_embedding.forward(tokens).add(positional_embedding[..(int)length]);
        x = ln_final.forward(transformer.Forward(x));
        // [B, W]: the end token's features (with the causal mask it is the only token that has seen the whole text).
        var atEnd = x.gather(1, endPositions.view(batch, 1, 1).expand(batch, 1, Config.Width)).squeeze(1);
        return atEnd.matmul(text_projection).MoveToOuterDisposeScope();
    }

    /// <summary>Text features [B, OutputDim], float32, without autograd.</summary>
    public Tensor EncodeTexts(IReadOnlyList<string> texts)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (tokens, ends) = Tokenizer.EncodeBatch(texts);
        return forward(tokens, ends).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
