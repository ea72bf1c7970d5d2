using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// Alpha-CLIP / CLIP visual checkpoints as name → tensor maps with the released Alpha-CLIP key names.
/// All name normalisation happens in <see cref="Normalize"/>, and only there.
/// </summary>
public static class AlphaClipCheckpoint
{
    public const string AlphaConvKey = "conv1_alpha.weight";

    /// <summary>Reads a .pth/.pt/.bin (torch.save) or .safetensors visual checkpoint and normalises its names.</summary>
    public static Dictionary<string, Tensor> Load(string path) => Normalize(StateDictFile.Read(path));

    /// <summary>
    /// Returns a new map (sharing the tensors) with the released Alpha-CLIP names:
    /// <list type="bullet">
    /// <item>a full CLIP state dict keeps only its <c>visual.*</c> entries, without the prefix;</item>
    /// <item>OpenAI-CLIP <c>attn.in_proj_weight</c>/<c>attn.in_proj_bias</c> become <c>attn.in_proj.weight</c>/<c>.bias</c>;</item>
    /// <item>a plain CLIP checkpoint (no <c>conv1_alpha.weight</c>) gets an all-zero alpha conv, which makes
    /// Alpha-CLIP compute exactly CLIP.</item>
    /// </list>
    /// </summary>
    public static Dictionary<string, Tensor> Normalize(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        bool hasVisualPrefix = stateDict.Keys.Any(k => k.StartsWith("visual.", StringComparison.Ordinal));
        var result = new Dictionary<string, Tensor>();
        foreach (var (rawName, tensor) in stateDict)
        {
            string name = rawName;
            if (hasVisualPrefix)
            {
                // The text tower of a full CLIP state dict also has transformer.resblocks.*: drop everything non-visual.
                if (!name.StartsWith("visual.", StringComparison.Ordinal)) continue;
                name = name["visual.".Length..];
            }
            if (name.EndsWith(".attn.in_proj_weight", StringComparison.Ordinal)) name = name[..^"_weight".Length] + ".weight";
            else if (name.EndsWith(".attn.in_proj_bias", StringComparison.Ordinal)) name = name[..^"_bias".Length] + ".bias";
            if (!result.TryAdd(name, tensor))
                throw new InvalidDataException($"checkpoint holds '{name}' twice (under two spellings)");
        }
        if (!result.ContainsKey(AlphaConvKey) && result.TryGetValue("conv1.weight", out var conv1) && conv1.dim() == 4)
            result[AlphaConvKey] = zeros(conv1.shape[0], 1, conv1.shape[2], conv1.shape[3], dtype: conv1.dtype);
        return result;
    }
}
