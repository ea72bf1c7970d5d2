using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>
/// A bias-free projection y = x · Wᵀ with W [out, in] left uninitialised (the owner initialises it or loads it), so a
/// model read from GGUF does not pay for an initialisation it overwrites.
/// </summary>
internal sealed class LinearWeight : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    public LinearWeight(long inFeatures, long outFeatures) : base(nameof(LinearWeight))
    {
        weight = new Parameter(torch.empty(outFeatures, inFeatures));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => F.linear(x, weight);
}

/// <summary>A token embedding table [V, D], uninitialised like <see cref="LinearWeight"/>; rows are looked up by id.</summary>
internal sealed class EmbeddingTable : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    public EmbeddingTable(long vocabulary, long width) : base(nameof(EmbeddingTable))
    {
        weight = new Parameter(torch.empty(vocabulary, width));
        RegisterComponents();
    }

    /// <summary>Rows [.., D] for int64 ids [..].</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = torch.NewDisposeScope();
        long[] shape = [.. ids.shape, weight.shape[1]];
        return scope.MoveToOuter(weight.index_select(0, ids.reshape(-1)).reshape(shape));
    }
}
