using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>
/// The text tower's attention: the vision tower's layout (one fused q|k|v <c>in_proj</c>, then <c>out_proj</c>) with a
/// causal mask, so a token sees only itself and earlier tokens (CLIP's text transformer).
/// </summary>
internal sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names are the state-dict keys
    readonly Linear in_proj;
    readonly Linear out_proj;
#pragma warning restore IDE1006
    readonly int width, heads;

    public CausalSelfAttention(int width, int heads, ScalarType dtype) : base("attn")
    {
        this.width = width;
        this.heads = heads;
        in_proj = nn.Linear(width, 3 * width, hasBias: true, dtype: dtype);
        out_proj = nn.Linear(width, width, hasBias: true, dtype: dtype);
    }

    public override Tensor forward(Tensor x)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        using var scope = NewDisposeScope();
        // Contiguous heads: the CPU attention kernel is faster on them than on strided views (as in the vision tower).
        var qkv = in_proj.forward(x).view(batch, tokens, 3, heads, width / heads).permute(2, 0, 3, 1, 4).contiguous();
        var attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: true);
        var merged = attended.transpose(1, 2).reshape(batch, tokens, width);
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
