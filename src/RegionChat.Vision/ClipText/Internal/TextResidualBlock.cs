using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>CLIP's pre-LN block with causal attention: x + attn(ln_1(x)), then + mlp(ln_2(x)); QuickGELU MLP.</summary>
internal sealed class TextResidualBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names are the state-dict keys
    readonly CausalSelfAttention attn;
    readonly LayerNorm ln_1;
    readonly TextMlp mlp;
    readonly LayerNorm ln_2;
#pragma warning restore IDE1006

    public TextResidualBlock(int width, int heads, ScalarType dtype) : base("resblock")
    {
        attn = new CausalSelfAttention(width, heads, dtype);
        ln_1 = nn.LayerNorm(width, eps: 1e-5, dtype: dtype);
        mlp = new TextMlp(width, dtype);
        ln_2 = nn.LayerNorm(width, eps: 1e-5, dtype: dtype);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = attn.forward(ln_1.forward(x)).AddInPlace(x);
        var y = mlp.forward(ln_2.forward(h)).AddInPlace(h);
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary><c>c_fc</c> (width → 4·width), QuickGELU x·σ(1.702x), <c>c_proj</c> (4·width → width).</summary>
internal sealed class TextMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names are the state-dict keys
    readonly Linear c_fc;
    readonly Linear c_proj;
#pragma warning restore IDE1006
    static readonly TorchSharp.Scalar QuickGeluScale = 1.702;   // a static root (see RootedScalars)

    public TextMlp(int width, ScalarType dtype) : base("mlp")
    {
        c_fc = nn.Linear(width, 4 * width, hasBias: true, dtype: dtype);
        c_proj = nn.Linear(4 * width, width, hasBias: true, dtype: dtype);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = c_fc.forward(x);
        return c_proj.forward(h * h.mul(QuickGeluScale).sigmoid()).MoveToOuterDisposeScope();
    }
}

/// <summary>The block stack, registered as <c>transformer.resblocks.N</c>.</summary>
internal sealed class TextTransformerStack : nn.Module
{
#pragma warning disable IDE1006 // names are the state-dict keys
    readonly ModuleList<TextResidualBlock> resblocks;
#pragma warning restore IDE1006

    public TextTransformerStack(int width, int layers, int heads, ScalarType dtype) : base("transformer")
    {
        resblocks = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new TextResidualBlock(width, heads, dtype)).ToArray());
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var block in resblocks) x = block.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}
