using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>CLIP's MLP: <c>c_fc</c> (width → 4·width), QuickGELU x·σ(1.702x), <c>c_proj</c> (4·width → width).</summary>
internal sealed class QuickGeluMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names must match the reference state dict
    readonly Linear c_fc;
    readonly Linear c_proj;
#pragma warning restore IDE1006

    public QuickGeluMlp(int width, ScalarType dtype) : base("mlp")
    {
        c_fc = nn.Linear(width, 4 * width, hasBias: true, dtype: dtype);
        c_proj = nn.Linear(4 * width, width, hasBias: true, dtype: dtype);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = c_fc.forward(x);
        // In place when no graph is recorded (saves two [N, 4W] buffers); autograd needs the out-of-place form.
        h = is_grad_enabled() ? h * (h * 1.702).sigmoid() : h.mul_(h.mul(1.702).sigmoid_());
        return c_proj.forward(h).MoveToOuterDisposeScope();
    }
}
