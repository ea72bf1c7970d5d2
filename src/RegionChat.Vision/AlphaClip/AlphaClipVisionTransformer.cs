using RegionChat.Vision.Internal;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// The Alpha-CLIP image tower: CLIP's ViT with an extra alpha (region) patch convolution.
/// Parameter names equal the released checkpoints' keys, so <c>load_state_dict</c> needs no renaming.
/// </summary>
/// <remarks>
/// The model computes in <see cref="DType"/> (float32 by default; bfloat16/float16 on request). Inputs of any
/// floating dtype are converted to it, and the inference methods (<see cref="EncodePooled"/>, <see cref="Encode"/>,
/// <see cref="PatchFeatures"/>) always return float32 tensors that the caller owns. They run without autograd.
/// <see cref="forward"/> is the raw graph (model dtype, autograd as the caller sets it) for training code.
/// </remarks>
public sealed class AlphaClipVisionTransformer : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // names must match the reference state dict
    readonly Conv2d conv1;
    readonly Conv2d conv1_alpha;
    readonly Parameter class_embedding;
    readonly Parameter positional_embedding;
    readonly LayerNorm ln_pre;
    readonly TransformerStack transformer;
    readonly LayerNorm ln_post;
    readonly Parameter proj;
#pragma warning restore IDE1006

    public AlphaClipConfig Config { get; }

    public ScalarType DType { get; }

    /// <summary>A randomly initialised model (CLIP's init scale for the embeddings and projection).</summary>
    public AlphaClipVisionTransformer(AlphaClipConfig config, ScalarType dtype = ScalarType.Float32) : base("visual")
    {
        Config = config.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
            throw new ArgumentException($"dtype {dtype} is not a floating type");
        DType = dtype;
        int w = config.Width;
        double scale = Math.Pow(w, -0.5);
        conv1 = nn.Conv2d(3, w, config.PatchSize, stride: config.PatchSize, bias: false, dtype: dtype);
        conv1_alpha = nn.Conv2d(1, w, config.PatchSize, stride: config.PatchSize, bias: false, dtype: dtype);
        class_embedding = nn.Parameter((randn(w) * scale).to(dtype));
        positional_embedding = nn.Parameter((randn(config.Tokens, w) * scale).to(dtype));
        ln_pre = nn.LayerNorm(w, eps: 1e-5, dtype: dtype);
        transformer = new TransformerStack(w, config.Layers, config.Heads, dtype);
        ln_post = nn.LayerNorm(w, eps: 1e-5, dtype: dtype);
        proj = nn.Parameter((randn(w, config.OutputDim) * scale).to(dtype));
        RegisterComponents();
        eval();
    }

    /// <summary>Loads a visual checkpoint (.pth/.pt/.bin or .safetensors; released Alpha-CLIP, OpenAI-CLIP or plain CLIP names).</summary>
    /// <param name="config">Dimensions; when null they are inferred from the weights (heads = width/64).</param>
    public static AlphaClipVisionTransformer Load(string path, AlphaClipConfig? config = null, ScalarType dtype = ScalarType.Float32)
    {
        var raw = StateDictFile.Read(path);
        try
        {
            return FromStateDict(raw, config, dtype);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        finally
        {
            // The model holds its own copies; free the file's tensors now rather than at GC time.
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>Builds a model from a state dict (any spelling <see cref="AlphaClipCheckpoint.Normalize"/> accepts).</summary>
    public static AlphaClipVisionTransformer FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict,
        AlphaClipConfig? config = null, ScalarType dtype = ScalarType.Float32)
    {
        var normalized = AlphaClipCheckpoint.Normalize(stateDict);
        var model = new AlphaClipVisionTransformer(config ?? AlphaClipConfig.InferFrom(normalized), dtype);
        try
        {
            model.LoadWeights(normalized);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies a checkpoint's tensors into this model after checking every name and shape.</summary>
    /// <exception cref="InvalidDataException">A key is missing or unexpected, or a tensor has the wrong shape (named in the message).</exception>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var source = AlphaClipCheckpoint.Normalize(stateDict);
        var target = state_dict();
        string arch = $"(model: {Config.InputResolution}px, patch {Config.PatchSize}, width {Config.Width}, {Config.Layers} layers, output {Config.OutputDim})";
        var missing = target.Keys.Where(k => !source.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"checkpoint lacks '{missing[0]}'" + (missing.Count > 1 ? $" and {missing.Count - 1} more" : "") + $" {arch}");
        var unexpected = source.Keys.Where(k => !target.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"checkpoint has unexpected '{unexpected[0]}'"
                + (unexpected.Count > 1 ? $" and {unexpected.Count - 1} more" : "") + $" {arch}");
        foreach (var (key, t) in target)
        {
            var s = source[key];
            if (!s.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"checkpoint tensor '{key}' has shape [{string.Join(", ", s.shape)}] but the model needs " +
                    $"[{string.Join(", ", t.shape)}] {arch}");
            if (!is_floating_point(s)) throw new InvalidDataException($"checkpoint tensor '{key}' has non-float dtype {s.dtype}");
        }
        using var _ = no_grad();
        load_state_dict(source, strict: true);
    }

    /// <summary>Pooled embedding ln_post(CLS)·proj in the model dtype: [B, 3, R, R] image, [B, 1, R, R] alpha → [B, OutputDim].</summary>
    public override Tensor forward(Tensor image, Tensor alpha)
    {
        using var scope = NewDisposeScope();
        var x = Embed(image, alpha);
        for (int i = 0; i < transformer.Count; i++) x = transformer[i].forward(x);
        return Pool(x).MoveToOuterDisposeScope();
    }

    /// <summary>Pooled embeddings [B, OutputDim], float32.</summary>
    public Tensor EncodePooled(Tensor image, Tensor alpha)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return forward(image, alpha).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Every hidden state and the pooled output, float32. Hidden states follow LLaVA / Hugging Face numbering:
    /// index 0 is the embedding after ln_pre, index i the output of block i; each is [B, 1 + grid², width], CLS first.
    /// </summary>
    public AlphaClipEncoding Encode(Tensor image, Tensor alpha)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var hidden = new List<Tensor> { Embed(image, alpha) };
        for (int i = 0; i < transformer.Count; i++) hidden.Add(transformer[i].forward(hidden[^1]));
        var pooled = Pool(hidden[^1]).to(ScalarType.Float32).MoveToOuterDisposeScope();
        var hidden32 = hidden.Select(h => h.to(ScalarType.Float32).MoveToOuterDisposeScope()).ToList();
        return new AlphaClipEncoding(pooled, hidden32);
    }

    /// <summary>
    /// LLaVA's visual features: the hidden state at <paramref name="selectLayer"/> (LLaVA's mm_vision_select_layer,
    /// negative counts from the end; −2 = output of the second-to-last block) without the CLS token:
    /// [B, grid², width], float32, contiguous. Blocks after the selected one are not run. With
    /// <paramref name="includeCls"/> (LLaVA's "cls_patch") the CLS token is kept in front: [B, 1 + grid², width].
    /// </summary>
    public Tensor PatchFeatures(Tensor image, Tensor alpha, int selectLayer = -2, bool includeCls = false) =>
        Features(image, alpha, selectLayer, includeCls, null);

    /// <summary>
    /// <see cref="PatchFeatures"/> (the same features) and how much the CLS query attends to each patch token in the block
    /// whose output is the feature layer (softmax weights averaged over the heads; CLS's weight on itself left out):
    /// [B, grid²], float32 — VisionZip's "dominant token" score. At layer 0 no block runs and every patch scores the same.
    /// </summary>
    public (Tensor Features, Tensor PatchAttention) PatchFeaturesWithClsAttention(Tensor image, Tensor alpha, int selectLayer = -2,
        bool includeCls = false)
    {
        var attention = new Tensor[1];
        var features = Features(image, alpha, selectLayer, includeCls, attention);
        return (features, attention[0]);
    }

    Tensor Features(Tensor image, Tensor alpha, int selectLayer, bool includeCls, Tensor[]? patchAttention)
    {
        int stop = ResolveLayer(selectLayer);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = Embed(image, alpha);
        for (int i = 0; i < stop; i++)
        {
            if (patchAttention != null && i == stop - 1)
            {
                x = transformer[i].ForwardWithClsAttention(x, out var cls);
                patchAttention[0] = cls[.., 1..].contiguous().MoveToOuterDisposeScope();
            }
            else x = transformer[i].forward(x);
        }
        if (patchAttention != null && stop == 0)
        {
            long patches = x.shape[1] - 1;
            using TorchSharp.Scalar uniform = 1.0 / patches;   // alive past the native call (see RootedScalars)
            patchAttention[0] = full([x.shape[0], patches], uniform, ScalarType.Float32, x.device).MoveToOuterDisposeScope();
        }
        return (includeCls ? x : x[.., 1..]).to(ScalarType.Float32).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Maps a LLaVA-style layer index (−1 = last block, 0 = embeddings) to the number of blocks to run.</summary>
    public int ResolveLayer(int selectLayer)
    {
        int count = Config.Layers + 1;
        int index = selectLayer < 0 ? count + selectLayer : selectLayer;
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(selectLayer),
                $"layer {selectLayer} is outside -{count}..{count - 1} for a {Config.Layers}-block model");
        return index;
    }

    Tensor Embed(Tensor image, Tensor alpha)
    {
        CheckInput(image, 3, nameof(image));
        CheckInput(alpha, 1, nameof(alpha));
        if (alpha.shape[0] != image.shape[0])
            throw new ArgumentException($"alpha batch {alpha.shape[0]} differs from image batch {image.shape[0]}", nameof(alpha));
        long batch = image.shape[0];
        using var scope = NewDisposeScope();
        var patches = conv1.forward(image.to(DType)).AddInPlace(conv1_alpha.forward(alpha.to(DType)));   // [B, W, g, g]
        var tokens = patches.flatten(2).transpose(1, 2);                                            // [B, g², W]
        var cls = class_embedding.view(1, 1, -1).expand(batch, 1, -1);
        var x = cat([cls, tokens], 1).AddInPlace(positional_embedding);
        return ln_pre.forward(x).MoveToOuterDisposeScope();
    }

    Tensor Pool(Tensor lastHidden) => ln_post.forward(lastHidden[.., 0]).matmul(proj);

    void CheckInput(Tensor t, int channels, string name)
    {
        int r = Config.InputResolution;
        if (t.dim() != 4 || t.shape[1] != channels || t.shape[2] != r || t.shape[3] != r)
            throw new ArgumentException($"{name} must be [batch, {channels}, {r}, {r}], got [{string.Join(", ", t.shape)}]", name);
        if (t.shape[0] == 0) throw new ArgumentException($"{name} has an empty batch", name);
        if (!is_floating_point(t)) throw new ArgumentException($"{name} must be a floating tensor, got {t.dtype}", name);
    }
}
