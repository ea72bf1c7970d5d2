using System.Diagnostics;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `bench vision --profile`: the ops of one transformer block of the tower, each timed alone at the tower's shapes and
/// number type and multiplied by its block count, so a forward's time can be split into matrix products, attention and
/// the rest (and the matrix products' own GFLOP/s set against the matmul peak). Attention is timed both ways the tower
/// may run it (fused in float32, as two products in bfloat16); only one of them is part of a forward.
/// </summary>
internal static class VisionOpProfile
{
    internal sealed record Part(string Name, double MsPerForward, double Gflop);

    public static IReadOnlyList<Part> Run(AlphaClipConfig c, int batch, ScalarType dtype, int reps)
    {
        long w = c.Width, heads = c.Heads, tokens = (long)(c.InputResolution / c.PatchSize) * (c.InputResolution / c.PatchSize) + 1;
        using var scope = NewDisposeScope();
        using var guard = no_grad();
        var x = randn(batch, tokens, w).to(dtype);
        Tensor Weight(long rows, long cols) => (randn(rows, cols) * 0.02).to(dtype);
        var inProj = Weight(3 * w, w);
        var outProj = Weight(w, w);
        var fc = Weight(4 * w, w);
        var proj = Weight(w, 4 * w);
        var bias3 = zeros(3 * w).to(dtype);
        var bias1 = zeros(w).to(dtype);
        var bias4 = zeros(4 * w).to(dtype);
        var h4 = randn(batch, tokens, 4 * w).to(dtype);
        var lnWeight = ones(w).to(dtype);
        var qkv = randn([batch, tokens, 3, heads, w / heads]).to(dtype);
        var q = randn(batch, heads, tokens, w / heads).to(dtype);
        var k = randn(batch, heads, tokens, w / heads).to(dtype);
        var v = randn(batch, heads, tokens, w / heads).to(dtype);

        double Time(Func<Tensor> op)
        {
            op().Dispose();
            var times = new List<double>();
            for (int i = 0; i < reps; i++)
            {
                var clock = Stopwatch.StartNew();
                op().Dispose();
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            return times[times.Count / 2] * c.Layers;
        }

        using TorchSharp.Scalar scale = 1.0 / Math.Sqrt(w / heads);   // alive past the native calls (see RootedScalars)
        double linearFlop = 2.0 * batch * tokens * w * w * (3 + 1 + 4 + 4) * c.Layers / 1e9;
        double attentionFlop = 4.0 * batch * heads * tokens * tokens * (w / heads) * c.Layers / 1e9;
        return
        [
            new("matrix products (in_proj, out_proj, c_fc, c_proj)", Time(() =>
            {
                using var a = nn.functional.linear(x, inProj, bias3);
                using var b = nn.functional.linear(x, outProj, bias1);
                using var d = nn.functional.linear(x, fc, bias4);
                return nn.functional.linear(h4, proj, bias1);
            }), linearFlop),
            new("attention (scaled_dot_product_attention)", Time(() => nn.functional.scaled_dot_product_attention(q, k, v)), attentionFlop),
            new("attention as matmul, softmax, matmul (the bf16 tower's)", Time(() =>
            {
                using var kt = k.transpose(-2, -1);
                using var scores = q.matmul(kt).mul_(scale);
                using var p = scores.softmax(-1);
                return p.matmul(v);
            }), attentionFlop),
            new("qkv split and head merge (permute, contiguous)", Time(() =>
            {
                using var permuted = qkv.permute(2, 0, 3, 1, 4);
                using var split = permuted.contiguous();
                using var merged = q.transpose(1, 2);
                return merged.reshape(batch, tokens, w);
            }), 0),
            new("layer norms (2)", Time(() =>
            {
                using var a = nn.functional.layer_norm(x, [w], lnWeight, bias1);
                return nn.functional.layer_norm(x, [w], lnWeight, bias1);
            }), 0),
            // The tower's inference form: its 1.702 scalings ride in the products, leaving one SiLU pass over [N, 4W].
            new("QuickGELU (one SiLU pass, as the tower runs it)", Time(() => nn.functional.silu(h4)), 0),
            new("residual adds (2)", Time(() =>
            {
                using var a = x + x;
                return a + x;
            }), 0),
        ];
    }
}
