using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// LLaVA's multimodal projector: <c>linear</c> (one Linear) or <c>mlpNx_gelu</c> (Linear, then N−1 × [exact erf GELU,
/// Linear]; LLaVA-1.5 uses mlp2x_gelu). Its state dict keys are those of LLaVA's nn.Sequential: <c>0.weight</c>,
/// <c>0.bias</c>, <c>2.weight</c>, <c>2.bias</c>, …
/// </summary>
/// <remarks><see cref="Project"/> computes in <see cref="DType"/> and returns float32. A projector may also hold an
/// optional region-position map (LlavaProjector.RegionPosition.cs), which LLaVA's projectors do not have.</remarks>
public sealed partial class LlavaProjector : nn.Module<Tensor, Tensor>
{
    const int MaxDepth = 8, MaxDim = 65536;

    // An array, not a ModuleList field: RegisterComponents would register a module field a second time under its own name.
    readonly Linear[] linears;

    public LlavaProjector(int inputDim, int outputDim, int depth = 2, ScalarType dtype = ScalarType.Float32) : base("mm_projector")
    {
        if (depth is < 1 or > MaxDepth) throw new ArgumentOutOfRangeException(nameof(depth), $"projector depth {depth} must be 1..{MaxDepth}");
        if (inputDim is < 1 or > MaxDim || outputDim is < 1 or > MaxDim)
            throw new ArgumentException($"projector dims {inputDim} → {outputDim} must be in 1..{MaxDim}");
        InputDim = inputDim;
        OutputDim = outputDim;
        Depth = depth;
        DType = dtype;
        // LLaVA: Linear(in, out), then per extra depth GELU + Linear(out, out). GELU has no weights, so the Linears sit
        // at Sequential indices 0, 2, 4, …; they are registered under exactly those names.
        linears = Enumerable.Range(0, depth)
            .Select(i => nn.Linear(i == 0 ? inputDim : outputDim, outputDim, hasBias: true, dtype: dtype)).ToArray();
        for (int i = 0; i < depth; i++) register_module((2 * i).ToString(), linears[i]);
        eval();
    }

    public int InputDim { get; }
    public int OutputDim { get; }

    /// <summary>Number of Linear layers: 1 for "linear", 2 for "mlp2x_gelu".</summary>
    public int Depth { get; }

    public ScalarType DType { get; }

    /// <summary>LLaVA's mm_projector_type string.</summary>
    public string ProjectorType => Depth == 1 ? "linear" : $"mlp{Depth}x_gelu";

    /// <summary>Projects [..., InputDim] features in the model dtype (autograd as the caller sets it).</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var x = linears[0].forward(features.to(DType));
        for (int i = 1; i < Depth; i++) x = linears[i].forward(nn.functional.gelu(x));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Projects patch features [..., InputDim] → [..., OutputDim], float32, without autograd.</summary>
    public Tensor Project(Tensor features)
    {
        if (features.dim() < 1 || features.shape[^1] != InputDim)
            throw new ArgumentException($"projector input must end in {InputDim}, got [{string.Join(", ", features.shape)}]", nameof(features));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return forward(features).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Loads a projector from .pth/.bin (torch.save) or .safetensors with LLaVA names; other keys are ignored.</summary>
    public static LlavaProjector Load(string path, ScalarType dtype = ScalarType.Float32)
    {
        var raw = StateDictFile.Read(path);
        try
        {
            return FromStateDict(raw, dtype);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Builds a projector from tensors named <c>model.mm_projector.N.weight/bias</c> (LLaVA), <c>mm_projector.N.*</c>,
    /// or <c>N.*</c> (this module's own state dict), and the optional <c>region_position.weight</c> under the same prefix.
    /// Type and dims are read off the weights; tensors of any floating
    /// dtype (e.g. f16 from a GGUF) are converted. Keys of other modules are ignored.
    /// </summary>
    public static LlavaProjector FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, ScalarType dtype = ScalarType.Float32)
    {
        var layers = new SortedDictionary<int, Dictionary<string, Tensor>>();
        Tensor? regionPosition = null;
        var pattern = new Regex(@"^(?:(?:model\.)?mm_projector\.)?(\d+)\.(weight|bias)$");
        bool prefixed = stateDict.Keys.Any(k => k.Contains("mm_projector.", StringComparison.Ordinal));
        foreach (var (key, tensor) in stateDict)
        {
            if (prefixed && !key.Contains("mm_projector.", StringComparison.Ordinal)) continue;
            if (RegionPositionKey.IsMatch(key))
            {
                if (regionPosition is not null) throw new InvalidDataException($"projector tensor '{key}' appears twice");
                regionPosition = tensor;
                continue;
            }
            var m = pattern.Match(key);
            if (!m.Success)
            {
                if (prefixed) throw new InvalidDataException($"unexpected projector tensor '{key}'");
                continue;
            }
            int index = int.Parse(m.Groups[1].Value);
            if (!layers.TryGetValue(index, out var parts)) layers[index] = parts = new();
            if (!parts.TryAdd(m.Groups[2].Value, tensor)) throw new InvalidDataException($"projector tensor '{key}' appears twice");
        }
        if (layers.Count == 0)
            throw new InvalidDataException("no projector tensors (expected model.mm_projector.0.weight, …)");
        int depth = layers.Count;
        if (depth > MaxDepth) throw new InvalidDataException($"projector has {depth} layers; at most {MaxDepth} are supported");
        for (int i = 0; i < depth; i++)
            if (!layers.ContainsKey(2 * i))
                throw new InvalidDataException($"projector layers must sit at indices 0, 2, 4, … (Linear, GELU, Linear); missing mm_projector.{2 * i}.weight");

        var w0 = Weight(layers, 0);
        int inputDim = checked((int)w0.shape[1]), outputDim = checked((int)w0.shape[0]);
        var projector = new LlavaProjector(inputDim, outputDim, depth, dtype);
        try
        {
            var own = projector.state_dict();
            var source = new Dictionary<string, Tensor>();
            for (int i = 0; i < depth; i++)
            {
                var parts = layers[2 * i];
                foreach (var part in new[] { "weight", "bias" })
                {
                    string key = $"{2 * i}.{part}";
                    if (!parts.TryGetValue(part, out var t)) throw new InvalidDataException($"projector lacks mm_projector.{key}");
                    if (!t.shape.SequenceEqual(own[key].shape))
                        throw new InvalidDataException($"projector tensor mm_projector.{key} has shape [{string.Join(", ", t.shape)}] but " +
                            $"a {projector.ProjectorType} projector {inputDim} → {outputDim} needs [{string.Join(", ", own[key].shape)}]");
                    if (!is_floating_point(t)) throw new InvalidDataException($"projector tensor mm_projector.{key} has non-float dtype {t.dtype}");
                    source[key] = t;
                }
            }
            if (regionPosition is not null)
            {
                projector.AddRegionPositionMap();
                CheckRegionPosition(regionPosition, outputDim);
                source[RegionPositionName + ".weight"] = regionPosition;
            }
            using var _ = no_grad();
            projector.load_state_dict(source, strict: true);
            return projector;
        }
        catch
        {
            projector.Dispose();
            throw;
        }

        static Tensor Weight(SortedDictionary<int, Dictionary<string, Tensor>> layers, int index)
        {
            if (!layers[index].TryGetValue("weight", out var w)) throw new InvalidDataException($"projector lacks mm_projector.{index}.weight");
            if (w.dim() != 2) throw new InvalidDataException($"projector weight mm_projector.{index}.weight must be 2-D, got [{string.Join(", ", w.shape)}]");
            return w;
        }
    }
}
