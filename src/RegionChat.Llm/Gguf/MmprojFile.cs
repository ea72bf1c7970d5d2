using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Gguf;

/// <summary>The clip.* metadata of a llama.cpp mmproj GGUF; fields are null when the file does not carry the key.</summary>
public sealed record MmprojInfo(
    string? ProjectorType,
    bool? HasVisionEncoder,
    bool? HasLlavaProjector,
    bool? UseGelu,
    int? ImageSize,
    int? PatchSize,
    int? EmbeddingLength,
    int? FeedForwardLength,
    int? ProjectionDim,
    int? BlockCount,
    int? HeadCount,
    float? LayerNormEps,
    float[]? ImageMean,
    float[]? ImageStd,
    int[]? FeatureLayers,
    string? PatchMergeType,
    IReadOnlyDictionary<string, GgufValue> ClipKeys);

/// <summary>
/// A llama.cpp LLaVA "mmproj" GGUF (vision tower + projector). Gives its clip.* metadata and its projector
/// <c>mm.N.{weight,bias}</c> as a LLaVA state dict (<c>model.mm_projector.N.weight</c>, …) of float32 TorchSharp
/// tensors in PyTorch layout: GGUF's ne = [in, out] with in innermost is already row-major [out, in].
/// </summary>
public sealed partial class MmprojFile : IDisposable
{
    public const string LlavaProjectorPrefix = "model.mm_projector.";

    MmprojFile(GgufFile gguf, MmprojInfo info, IReadOnlyDictionary<string, string> projectorNames)
    {
        Gguf = gguf;
        Info = info;
        ProjectorTensorNames = projectorNames;
    }

    public GgufFile Gguf { get; }
    public MmprojInfo Info { get; }

    /// <summary>GGUF tensor name (mm.0.weight) → LLaVA key (model.mm_projector.0.weight), in file order.</summary>
    public IReadOnlyDictionary<string, string> ProjectorTensorNames { get; }

    public static MmprojFile Open(string path)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            var clip = gguf.MetadataInOrder.Where(kv => kv.Key.StartsWith("clip.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            if (clip.Count == 0) throw new GgufFormatException($"{path} is not an mmproj GGUF: it has no clip.* metadata");
            var names = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var t in gguf.Tensors)
            {
                var m = ProjectorTensor().Match(t.Name);
                if (m.Success) names[t.Name] = $"{LlavaProjectorPrefix}{m.Groups[1].Value}.{m.Groups[2].Value}";
            }
            if (names.Count == 0)
                throw new GgufFormatException($"{path} has no LLaVA projector tensors (mm.N.weight / mm.N.bias); projector type " +
                    $"'{gguf.GetStringOrNull("clip.projector_type")}' is not supported");
            return new MmprojFile(gguf, ReadInfo(gguf, clip), names);
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    /// <summary>The projector as a LLaVA state dict of new float32 CPU tensors (the caller owns and disposes them).</summary>
    public Dictionary<string, Tensor> ReadProjectorStateDict()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (ggufName, llavaName) in ProjectorTensorNames)
            {
                var info = Gguf.GetTensorInfo(ggufName);
                float[] data = Gguf.ReadTensor(ggufName);
                result[llavaName] = torch.tensor(data, info.TorchShape, ScalarType.Float32);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    public void Dispose() => Gguf.Dispose();

    static MmprojInfo ReadInfo(GgufFile f, IReadOnlyDictionary<string, GgufValue> clip)
    {
        int? Int(string key) => f.Contains(key) ? f.GetInt32(key) : null;
        float[]? Floats(string key) => f.TryGet(key, out var v) && v.IsArray
            ? v.ElementType switch
            {
                GgufValueType.Float32 => v.AsArray<float>(),
                GgufValueType.Float64 => v.AsArray<double>().Select(x => (float)x).ToArray(),
                _ => throw new GgufFormatException($"{f.Path}: {key} is an array of {v.ElementType}, expected floats"),
            }
            : null;
        int[]? Ints(string key) => f.TryGet(key, out var v) && v.IsArray
            ? v.ElementType switch
            {
                GgufValueType.Int32 => v.AsArray<int>(),
                GgufValueType.UInt32 => v.AsArray<uint>().Select(x => checked((int)x)).ToArray(),
                _ => throw new GgufFormatException($"{f.Path}: {key} is an array of {v.ElementType}, expected integers"),
            }
            : null;
        double? eps = f.GetFloat64OrNull("clip.vision.attention.layer_norm_epsilon");
        return new MmprojInfo(
            f.GetStringOrNull("clip.projector_type") ?? f.GetStringOrNull("clip.vision.projector_type"),
            f.GetBoolOrNull("clip.has_vision_encoder"),
            f.GetBoolOrNull("clip.has_llava_projector"),
            f.GetBoolOrNull("clip.use_gelu"),
            Int("clip.vision.image_size"),
            Int("clip.vision.patch_size"),
            Int("clip.vision.embedding_length"),
            Int("clip.vision.feed_forward_length"),
            Int("clip.vision.projection_dim"),
            Int("clip.vision.block_count"),
            Int("clip.vision.attention.head_count"),
            eps is double e ? (float)e : null,
            Floats("clip.vision.image_mean"),
            Floats("clip.vision.image_std"),
            Ints("clip.vision.feature_layer"),
            f.GetStringOrNull("clip.vision.mm_patch_merge_type"),
            clip);
    }

    [GeneratedRegex(@"^mm\.(\d+)\.(weight|bias)$")]
    private static partial Regex ProjectorTensor();
}
