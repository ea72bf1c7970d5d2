using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>The block stack, registered as <c>transformer.resblocks.N</c>.</summary>
internal sealed class TransformerStack : nn.Module
{
#pragma warning disable IDE1006 // names must match the reference state dict
    readonly ModuleList<ResidualAttentionBlock> resblocks;
#pragma warning restore IDE1006

    public TransformerStack(int width, int layers, int heads, ScalarType dtype) : base("transformer")
    {
        resblocks = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new ResidualAttentionBlock(width, heads, dtype)).ToArray());
    }

    public int Count => resblocks.Count;

    public ResidualAttentionBlock this[int index] => resblocks[index];
}
