using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// CLIP text-tower checkpoints as name → tensor maps with OpenAI's key names (<c>token_embedding.weight</c>,
/// <c>positional_embedding</c>, <c>transformer.resblocks.N.attn.in_proj.*</c>, <c>ln_final.*</c>, <c>text_projection</c>
/// [width, output]). All name normalisation of the text side happens in <see cref="Normalize"/>, and only there.
/// </summary>
public static partial class ClipTextCheckpoint
{
    const string HfPrefix = "text_model.";

    /// <summary>Reads a .pth/.pt/.bin or .safetensors file holding a CLIP text tower (alone or beside the vision tower).</summary>
    public static ClipTextWeights Load(string path)
    {
        var raw = StateDictFile.Read(path);
        try
        {
            var weights = Normalize(raw);
            // The vision tower's tensors of a full CLIP file are not kept: free them now rather than at GC time.
            var kept = new HashSet<Tensor>(weights.Weights.Values, ReferenceEqualityComparer.Instance);
            foreach (var t in raw.Values) if (!kept.Contains(t) && !ReferenceEquals(t, weights.LogitScale)) t.Dispose();
            return weights;
        }
        catch (InvalidDataException e)
        {
            foreach (var t in raw.Values) t.Dispose();
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The text tower's tensors under OpenAI's names, and the logit scale (log, as CLIP stores it) when the dict holds one:
    /// <list type="bullet">
    /// <item>OpenAI layout (a full CLIP state dict, or the text part alone): keeps <c>token_embedding</c>,
    /// <c>positional_embedding</c>, <c>transformer.*</c>, <c>ln_final.*</c>, <c>text_projection</c>; drops <c>visual.*</c>;
    /// <c>attn.in_proj_weight</c>/<c>_bias</c> become <c>attn.in_proj.weight</c>/<c>.bias</c>;</item>
    /// <item>Hugging Face <c>CLIPModel</c> / <c>CLIPTextModelWithProjection</c> layout (<c>text_model.*</c>): q/k/v joined
    /// into <c>in_proj</c>, <c>layer_norm1/2</c> → <c>ln_1/2</c>, <c>mlp.fc1/fc2</c> → <c>mlp.c_fc/c_proj</c>,
    /// <c>text_projection.weight</c> transposed; <c>vision_model.*</c> and <c>visual_projection</c> dropped.</item>
    /// </list>
    /// The returned tensors are either the input's or new (joined, transposed); dispose both sets.
    /// </summary>
    public static ClipTextWeights Normalize(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var logit = stateDict.TryGetValue("logit_scale", out var ls) ? ls : null;
        return stateDict.Keys.Any(k => k.StartsWith(HfPrefix, StringComparison.Ordinal))
            ? new ClipTextWeights(FromHuggingFace(stateDict), logit)
            : new ClipTextWeights(FromOpenAi(stateDict), logit);
    }

    static Dictionary<string, Tensor> FromOpenAi(IReadOnlyDictionary<string, Tensor> sd)
    {
        if (!sd.ContainsKey("token_embedding.weight"))
            throw new InvalidDataException("holds no CLIP text tower (neither OpenAI's token_embedding.weight nor Hugging Face's text_model.*); " +
                "a visual-only checkpoint (as released Alpha-CLIP ones are) needs the text weights given separately");
        var result = new Dictionary<string, Tensor>();
        foreach (var (raw, tensor) in sd)
        {
            bool text = raw is "token_embedding.weight" or "positional_embedding" or "text_projection"
                || raw.StartsWith("ln_final.", StringComparison.Ordinal) || raw.StartsWith("transformer.", StringComparison.Ordinal);
            if (!text) continue;
            string name = raw;
            if (name.EndsWith(".attn.in_proj_weight", StringComparison.Ordinal)) name = name[..^"_weight".Length] + ".weight";
            else if (name.EndsWith(".attn.in_proj_bias", StringComparison.Ordinal)) name = name[..^"_bias".Length] + ".bias";
            if (!result.TryAdd(name, tensor)) throw new InvalidDataException($"checkpoint holds '{name}' twice (under two spellings)");
        }
        return result;
    }

    [GeneratedRegex(@"^text_model\.encoder\.layers\.(\d+)\.(.+)$")]
    private static partial Regex HfLayer();

    static Dictionary<string, Tensor> FromHuggingFace(IReadOnlyDictionary<string, Tensor> sd)
    {
        var result = new Dictionary<string, Tensor>();
        var qkv = new Dictionary<(int Layer, string Part), Tensor[]>();
        foreach (var (name, tensor) in sd)
        {
            if (!name.StartsWith(HfPrefix, StringComparison.Ordinal))
            {
                if (name == "text_projection.weight") result["text_projection"] = tensor.t().contiguous();
                continue;   // vision_model.*, visual_projection.weight, logit_scale
            }
            string rest = name[HfPrefix.Length..];
            switch (rest)
            {
                case "embeddings.token_embedding.weight": result["token_embedding.weight"] = tensor; continue;
                case "embeddings.position_embedding.weight": result["positional_embedding"] = tensor; continue;
                case "embeddings.position_ids": continue;
                case "final_layer_norm.weight": result["ln_final.weight"] = tensor; continue;
                case "final_layer_norm.bias": result["ln_final.bias"] = tensor; continue;
            }
            var m = HfLayer().Match(name);
            if (!m.Success) throw new InvalidDataException($"unknown Hugging Face text key '{name}'");
            int layer = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            string key = m.Groups[2].Value, block = $"transformer.resblocks.{layer}.";
            var proj = key.Split('.');
            if (proj.Length == 3 && proj[0] == "self_attn" && proj[1] is "q_proj" or "k_proj" or "v_proj")
            {
                var parts = qkv.TryGetValue((layer, proj[2]), out var p) ? p : qkv[(layer, proj[2])] = new Tensor[3];
                parts[proj[1] switch { "q_proj" => 0, "k_proj" => 1, _ => 2 }] = tensor;
                continue;
            }
            string? mapped = key switch
            {
                "self_attn.out_proj.weight" => "attn.out_proj.weight",
                "self_attn.out_proj.bias" => "attn.out_proj.bias",
                "layer_norm1.weight" => "ln_1.weight",
                "layer_norm1.bias" => "ln_1.bias",
                "layer_norm2.weight" => "ln_2.weight",
                "layer_norm2.bias" => "ln_2.bias",
                "mlp.fc1.weight" => "mlp.c_fc.weight",
                "mlp.fc1.bias" => "mlp.c_fc.bias",
                "mlp.fc2.weight" => "mlp.c_proj.weight",
                "mlp.fc2.bias" => "mlp.c_proj.bias",
                _ => null,
            };
            result[block + (mapped ?? throw new InvalidDataException($"unknown Hugging Face text key '{name}'"))] = tensor;
        }
        foreach (var ((layer, part), parts) in qkv)
        {
            if (parts.Any(p => p is null))
                throw new InvalidDataException($"text_model.encoder.layers.{layer}.self_attn lacks one of q_proj/k_proj/v_proj.{part}");
            result[$"transformer.resblocks.{layer}.attn.in_proj.{part}"] = cat(parts, 0);
        }
        if (!result.ContainsKey("token_embedding.weight")) throw new InvalidDataException("lacks text_model.embeddings.token_embedding.weight");
        return result;
    }
}

/// <summary>A text tower's tensors under OpenAI's names, and CLIP's <c>logit_scale</c> (the log of the scale) if present.</summary>
public sealed record ClipTextWeights(Dictionary<string, Tensor> Weights, Tensor? LogitScale) : IDisposable
{
    /// <summary>exp(logit_scale), or null without one.</summary>
    public double? Scale => LogitScale is null ? null : Math.Exp(LogitScale.to(ScalarType.Float64).item<double>());

    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
        LogitScale?.Dispose();
    }
}
