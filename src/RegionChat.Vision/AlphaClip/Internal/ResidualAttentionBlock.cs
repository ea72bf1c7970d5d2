using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(x)).</summary>
internal sealed class ResidualAttentionBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names must match the reference state dict
    readonly SelfAttention attn;
    readonly LayerNorm ln_1;
    readonly QuickGeluMlp mlp;
    readonly LayerNorm ln_2;
#pragma warning restore IDE1006

    public ResidualAttentionBlock(int width, int heads, ScalarType dtype) : base("resblock")
    {
        attn = new SelfAttention(width, heads, dtype);
        ln_1 = nn.LayerNorm(width, eps: 1e-5, dtype: dtype);
        mlp = new QuickGeluMlp(width, dtype);
        ln_2 = nn.LayerNorm(width, eps: 1e-5, dtype: dtype);
    }

    /// <summary>Returns a new tensor; <paramref name="x"/> is left intact (callers may keep it as a hidden state).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // The sublayer outputs are fresh Linear results, so adding the residual into them in place is autograd-safe.
        var h = attn.forward(ln_1.forward(x)).AddInPlace(x);
        var y = mlp.forward(ln_2.forward(h)).AddInPlace(h);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary><see cref="forward"/> (the same output), plus the CLS query's attention weights over every token, heads
    /// averaged ([B, N], float32; see <see cref="SelfAttention.ForwardWithClsAttention"/>).</summary>
    public Tensor ForwardWithClsAttention(Tensor x, out Tensor clsAttention)
    {
        using var scope = NewDisposeScope();
        var h = attn.ForwardWithClsAttention(ln_1.forward(x), out var cls).AddInPlace(x);
        var y = mlp.forward(ln_2.forward(h)).AddInPlace(h);
        clsAttention = cls.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }
}
