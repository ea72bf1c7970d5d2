using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>
/// A deliberately plain, independent Alpha-CLIP forward in float64 (explicit softmax attention, hand-written LayerNorm),
/// straight from a state dict with released key names. Used to check outputs the goldens do not cover.
/// </summary>
internal static class ReferenceClip
{
    /// <summary>Pooled output and the last two block outputs; a null alpha conv means plain CLIP.</summary>
    public static (Tensor Pooled, Tensor Penultimate, Tensor Last) Run(IReadOnlyDictionary<string, Tensor> sd, AlphaClipConfig c,
        Tensor image, Tensor alpha, bool useAlphaConv)
    {
        Tensor P(string k) => sd[k].to(ScalarType.Float64);
        long b = image.shape[0];
        var x = nn.functional.conv2d(image.to(ScalarType.Float64), P("conv1.weight"), strides: new long[] { c.PatchSize, c.PatchSize });
        if (useAlphaConv)
            x = x + nn.functional.conv2d(alpha.to(ScalarType.Float64), P("conv1_alpha.weight"), strides: new long[] { c.PatchSize, c.PatchSize });
        x = x.reshape(b, c.Width, -1).permute(0, 2, 1);
        var cls = P("class_embedding").reshape(1, 1, -1) + zeros(b, 1, c.Width, dtype: ScalarType.Float64);
        x = cat(new[] { cls, x }, 1) + P("positional_embedding");
        x = Ln(x, P("ln_pre.weight"), P("ln_pre.bias"));
        var outs = new List<Tensor>();
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"transformer.resblocks.{i}.";
            var h = Ln(x, P(p + "ln_1.weight"), P(p + "ln_1.bias"));
            var qkv = h.matmul(P(p + "attn.in_proj.weight").t()) + P(p + "attn.in_proj.bias");
            var parts = qkv.chunk(3, -1);
            Tensor Heads(Tensor t) => t.reshape(b, -1, c.Heads, c.HeadDim).permute(0, 2, 1, 3);
            var scores = Heads(parts[0]).matmul(Heads(parts[1]).transpose(-1, -2)) / Math.Sqrt(c.HeadDim);
            var weights = scores.exp() / scores.exp().sum(-1, keepdim: true);
            var attended = weights.matmul(Heads(parts[2])).permute(0, 2, 1, 3).reshape(b, -1, c.Width);
            x = x + attended.matmul(P(p + "attn.out_proj.weight").t()) + P(p + "attn.out_proj.bias");
            h = Ln(x, P(p + "ln_2.weight"), P(p + "ln_2.bias"));
            h = h.matmul(P(p + "mlp.c_fc.weight").t()) + P(p + "mlp.c_fc.bias");
            h = h / (1 + (-1.702 * h).exp());
            x = x + h.matmul(P(p + "mlp.c_proj.weight").t()) + P(p + "mlp.c_proj.bias");
            outs.Add(x);
        }
        var pooled = Ln(x[.., 0], P("ln_post.weight"), P("ln_post.bias")).matmul(P("proj"));
        return (pooled, outs[^2], outs[^1]);
    }

    static Tensor Ln(Tensor x, Tensor w, Tensor bias)
    {
        var mean = x.mean(new long[] { -1 }, keepdim: true);
        var variance = (x - mean).pow(2).mean(new long[] { -1 }, keepdim: true);
        return (x - mean) / (variance + 1e-5).sqrt() * w + bias;
    }
}
