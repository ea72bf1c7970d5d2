using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>llama.cpp's RMS norm: x / sqrt(mean(x²) + eps) · weight, over the last dimension.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly float eps;

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
        var normed = x * torch.rsqrt(x.pow(2).mean(new long[] { -1 }, keepdim: true) + eps);
        return scope.MoveToOuter(normed * weight);
    }
}
