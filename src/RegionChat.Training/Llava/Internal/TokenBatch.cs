using static TorchSharp.torch;

namespace RegionChat.Training.Llava.Internal;

/// <summary>
/// Rows of token ids of different lengths as one right-padded [B, L] tensor, with next-token targets: target[b, t] is the
/// id at t+1 where that position counts for the loss, else <see cref="Ignore"/>. Right padding keeps every real
/// position's causal context unchanged.
/// </summary>
internal static class TokenBatch
{
    public const long Ignore = -100;

    /// <summary>Ids [B, L] padded with <paramref name="padId"/>.</summary>
    public static Tensor Ids(IReadOnlyList<int[]> rows, int padId)
    {
        int length = rows.Max(r => r.Length);
        var data = new long[rows.Count * length];
        for (int b = 0; b < rows.Count; b++)
            for (int t = 0; t < length; t++) data[b * length + t] = t < rows[b].Length ? rows[b][t] : padId;
        return tensor(data, [rows.Count, length]);
    }

    /// <summary>
    /// Targets [B, offset + L] for rows placed after <paramref name="offset"/> positions (BOS prefix, image rows): position
    /// p predicts the row's token at p+1 when that token's index in the row is at least <paramref name="firstCounted"/>[b].
    /// </summary>
    public static Tensor Targets(IReadOnlyList<int[]> rows, int offset, IReadOnlyList<int> firstCounted)
    {
        int length = rows.Max(r => r.Length);
        int width = offset + length;
        var data = new long[rows.Count * width];
        Array.Fill(data, Ignore);
        for (int b = 0; b < rows.Count; b++)
            for (int i = Math.Max(firstCounted[b], 0); i < rows[b].Length; i++)
            {
                int predictedAt = offset + i - 1;   // the position whose logits predict row token i
                if (predictedAt >= 0) data[b * width + predictedAt] = rows[b][i];
            }
        return tensor(data, [rows.Count, width]);
    }
}
