using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>All outputs of one Alpha-CLIP forward pass, float32. Disposing it frees every tensor.</summary>
public sealed class AlphaClipEncoding : IDisposable
{
    internal AlphaClipEncoding(Tensor pooled, IReadOnlyList<Tensor> hiddenStates)
    {
        Pooled = pooled;
        HiddenStates = hiddenStates;
    }

    /// <summary>ln_post(CLS)·proj: [B, OutputDim].</summary>
    public Tensor Pooled { get; }

    /// <summary>Index 0: embeddings after ln_pre; index i: output of block i. Each [B, 1 + grid², width], CLS first.</summary>
    public IReadOnlyList<Tensor> HiddenStates { get; }

    /// <summary>The hidden state at a LLaVA-style layer index (−1 = last block, −2 = the one before it).</summary>
    public Tensor Hidden(int layer)
    {
        int index = layer < 0 ? HiddenStates.Count + layer : layer;
        if (index < 0 || index >= HiddenStates.Count)
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is outside -{HiddenStates.Count}..{HiddenStates.Count - 1}");
        return HiddenStates[index];
    }

    /// <summary>LLaVA's patch features: <see cref="Hidden"/>(selectLayer) without the CLS token, [B, grid², width] (a view).</summary>
    public Tensor PatchFeatures(int selectLayer = -2) => Hidden(selectLayer)[.., 1..];

    public void Dispose()
    {
        Pooled.Dispose();
        foreach (var h in HiddenStates) h.Dispose();
    }
}
