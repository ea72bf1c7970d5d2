using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>llama.cpp's RMS norm: x / sqrt(mean(x²) + eps) · weight, over the last dimension.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Scalar eps;     // kept alive with the module (TwinScalars says why)

    // Named "weight" so the state-dict key is "<name>.weight", as in GGUF.
    public readonly TorchSharp.Modules.Parameter weight;

    public RmsNorm(long dim, float eps) : base(nameof(RmsNorm))
    {
        this.eps = eps;
        weight = new TorchSharp.Modules.Parameter(torch.ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var normed = x * torch.rsqrt(x.square().mean(new long[] { -1 }, keepdim: true).add(eps, TwinScalars.One));
        return scope.MoveToOuter(normed * weight);
    }
}
