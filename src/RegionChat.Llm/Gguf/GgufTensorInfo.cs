namespace RegionChat.Llm.Gguf;

/// <summary>
/// A tensor as a GGUF file lists it. <see cref="Ne"/> lists dimensions innermost first (ggml order: a PyTorch
/// [out, in] weight has ne = [in, out]). <see cref="Offset"/> is relative to the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Ne, GgmlType Type, long Offset, long ByteSize)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Ne) n *= d;
            return n;
        }
    }

    /// <summary>The dimensions outermost first, as PyTorch would list them.</summary>
    public long[] TorchShape => Ne.Reverse().ToArray();

    public override string ToString() => $"{Name} {Type} [{string.Join(", ", Ne)}]";
}
