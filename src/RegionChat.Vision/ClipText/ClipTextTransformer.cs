using RegionChat.Data.Text;
using RegionChat.Vision.Internal;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// CLIP's text tower (OpenAI's, and the shapes model's at small scale: one code): token + positional embeddings, causal pre-LN blocks (the vision tower's block
/// layout: ln_1, attn.in_proj, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj, QuickGELU), ln_final, and the features of
/// the end token projected by <c>text_projection</c>. State-dict names: <c>token_embedding.weight</c>,
/// <c>positional_embedding</c>, <c>transformer.resblocks.N.*</c>, <c>ln_final.*</c>, <c>text_projection</c>; other layouts
/// (a full OpenAI CLIP state dict, Hugging Face <c>CLIPModel</c>) are renamed by <see cref="ClipTextCheckpoint"/>. The
/// tokenizer says where the features are read: the end marker (shapes) or the largest id (CLIP's argmax).
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

    public IClipTokenizer Tokenizer { get; }

    public ScalarType DType { get; }

    /// <summary>A randomly initialised tower (CLIP's init scales for embeddings and projection).</summary>
    public ClipTextTransformer(ClipTextConfig config, IClipTokenizer tokenizer, ScalarType dtype = ScalarType.Float32) : base("text")
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

    /// <summary>
    /// Loads a CLIP text tower from a checkpoint in any layout <see cref="ClipTextCheckpoint.Normalize"/> reads (OpenAI's
    /// clip.pth, its text part alone, Hugging Face <c>CLIPModel</c> safetensors), and its exp(logit_scale) when it holds one.
    /// </summary>
    /// <param name="config">Dimensions; when null they are read off the weights (heads = width/64).</param>
    /// <param name="tokenizer">Default: the CLIP BPE tokenizer with the shipped vocabulary.</param>
    public static (ClipTextTransformer Model, double? LogitScale) LoadCheckpoint(string path, ClipTextConfig? config = null,
        IClipTokenizer? tokenizer = null, ScalarType dtype = ScalarType.Float32)
    {
        using var weights = ClipTextCheckpoint.Load(path);
        try
        {
            config ??= ClipTextConfig.InferFrom(weights.Weights);
            tokenizer ??= ClipBpeTokenizer.Default;
            if (tokenizer is ClipBpeTokenizer bpe) tokenizer = bpe.WithContextLength(config.ContextLength);
            var model = new ClipTextTransformer(config, tokenizer, dtype);
            try
            {
                model.LoadWeights(weights.Weights);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            return (model, weights.Scale);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
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
        var x = token_embedding.forward(tokens).Plus(positional_embedding[..(int)length]);
        x = ln_final.forward(transformer.Forward(x));
        // [B, W]: the end token's features (with the causal mask it is the only token that has seen the whole text).
        var atEnd = x.gather(1, endPositions.view(batch, 1, 1).expand(batch, 1, Config.Width)).squeeze(1);
        return atEnd.matmul(text_projection).MoveToOuterDisposeScope();
    }

    /// <summary>Text features [B, OutputDim], float32, without autograd.</summary>
    public Tensor EncodeTexts(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) throw new ArgumentException("no texts to encode", nameof(texts));
        using var scope = NewDisposeScope();
        var (tokens, ends) = Batch(texts.Select(Tokenizer.Tokenize).ToArray());
        return EncodeTokens(tokens, ends).MoveToOuterDisposeScope();
    }

    /// <summary>Text features [B, OutputDim], float32, without autograd, of tokens int64 [B, L] read at end positions [B].</summary>
    public Tensor EncodeTokens(Tensor tokens, Tensor endPositions)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return forward(tokens, endPositions).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tokenized texts as a batch: int64 [B, L] zero-padded to the longest (not the full context: with the causal mask,
    /// features at the end position do not depend on later positions), and the end positions int64 [B].
    /// </summary>
    public static (Tensor Tokens, Tensor EndPositions) Batch(IReadOnlyList<ClipTokens> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) throw new ArgumentException("no texts to encode", nameof(texts));
        int length = texts.Max(t => t.Ids.Length);
        var flat = new long[texts.Count * length];
        var ends = new long[texts.Count];
        for (int b = 0; b < texts.Count; b++)
        {
            for (int i = 0; i < texts[b].Ids.Length; i++) flat[b * length + i] = texts[b].Ids[i];
            ends[b] = texts[b].EndPosition;
        }
        return (tensor(flat, [texts.Count, length]), tensor(ends, [texts.Count]));
    }
}
