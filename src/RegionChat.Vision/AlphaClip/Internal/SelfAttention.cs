using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>
/// Alpha-CLIP's attention: one fused q|k|v projection (<c>in_proj</c>), scaled dot-product attention over the heads,
/// then <c>out_proj</c>. Field names are the checkpoint's key names.
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names must match the reference state dict
    readonly Linear in_proj;
    readonly Linear out_proj;
#pragma warning restore IDE1006
    readonly int width, heads;

    public SelfAttention(int width, int heads, ScalarType dtype) : base("attn")
    {
        this.width = width;
        this.heads = heads;
        in_proj = nn.Linear(width, 3 * width, hasBias: true, dtype: dtype);
        out_proj = nn.Linear(width, width, hasBias: true, dtype: dtype);
    }

    public override Tensor forward(Tensor x) => Run(x, null);

    /// <summary><see cref="forward"/>, plus the attention weights of the CLS query (token 0) over every token, averaged over
    /// the heads: <paramref name="clsAttention"/> is [B, N], float32, each row summing to 1. The output is computed exactly
    /// as <see cref="forward"/> computes it; the weights are the softmax(q·kᵀ/√d) row that attention applies to CLS.</summary>
    public Tensor ForwardWithClsAttention(Tensor x, out Tensor clsAttention)
    {
        var cls = new Tensor[1];
        var y = Run(x, cls);
        clsAttention = cls[0];
        return y;
    }

    Tensor Run(Tensor x, Tensor[]? clsAttention)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        using var scope = NewDisposeScope();
        // [B, N, 3W] → [3, B, H, N, D] in one copy: the CPU attention kernel runs ~15% faster on contiguous heads
        // than on the strided views, more than the copy costs.
        var qkv = PaddedRows.Linear(in_proj, x).view(batch, tokens, 3, heads, width / heads).permute(2, 0, 3, 1, 4).contiguous();
        var attended = qkv.dtype == ScalarType.BFloat16 ? MatmulAttention(qkv[0], qkv[1], qkv[2])
            : nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
        if (clsAttention != null)
        {
            var q = qkv[0][.., .., ..1].to(ScalarType.Float32);                                     // [B, H, 1, D]
            var k = qkv[1].to(ScalarType.Float32);                                                  // [B, H, N, D]
            using TorchSharp.Scalar scale = 1.0 / Math.Sqrt(width / heads);   // alive past the native call (see RootedScalars)
            var weights = q.matmul(k.transpose(-2, -1)).mul_(scale).softmax(-1);                    // [B, H, 1, N]
            clsAttention[0] = weights.squeeze(2).mean([1]).MoveToOuterDisposeScope();
        }
        var merged = attended.transpose(1, 2).reshape(batch, tokens, width);
        return PaddedRows.Linear(out_proj, merged).MoveToOuterDisposeScope();
    }

    /// <summary>softmax(q·kᵀ/√d)·v as two matrix products. In bfloat16 they run on the CPU's bf16 matmul kernels, 1.3–2×
    /// as fast as libtorch's CPU scaled_dot_product_attention there, which gains nothing from bf16 (`bench vision
    /// --profile`: 217–270 against 311–438 ms per ViT-L forward); in float32 the fused kernel is the faster one.</summary>
    Tensor MatmulAttention(Tensor q, Tensor k, Tensor v)
    {
        using var scores = q.matmul(k.transpose(-2, -1));
        using TorchSharp.Scalar scale = 1.0 / Math.Sqrt(width / heads);   // alive past the native call (see RootedScalars)
        scores.mul_(scale);
        using var weights = scores.softmax(-1);
        return weights.matmul(v);
    }
}
