using System.Globalization;
using System.Text;

namespace RegionChat.CaptionBatch;

/// <summary>
/// One shard of a batch input split N ways (<c>--shard I/N</c>, 0 ≤ I &lt; N): the items whose id hashes to I. The hash
/// is the 64-bit FNV-1a of the id's UTF-8 bytes, taken modulo N, so a shard's set depends on nothing but the ids and N:
/// it is the same in every run, process and machine (unlike <see cref="string.GetHashCode()"/>, which is randomised
/// per process), and N jobs with the same N and I = 0 … N-1 take every item exactly once.
/// </summary>
/// <remarks>Ids are compared as the batch files write them: an integer id 7 is the string "7".</remarks>
public readonly record struct CaptionBatchShard(int Index, int Count)
{
    /// <summary>The whole input (one shard).</summary>
    public static readonly CaptionBatchShard All = new(0, 1);

    /// <summary>Most shards a job may be split into.</summary>
    public const int MaxCount = 1_000_000;

    const ulong FnvOffset = 14695981039346656037UL;
    const ulong FnvPrime = 1099511628211UL;

    /// <summary>Whether the input is split at all.</summary>
    public bool IsSplit => Count > 1;

    /// <summary>Whether the item with <paramref name="id"/> belongs to this shard.</summary>
    public bool Contains(string id) => ShardOf(id, Count) == Index;

    /// <summary>The shard (0 … <paramref name="count"/>-1) the id belongs to when the input is split
    /// <paramref name="count"/> ways.</summary>
    public static int ShardOf(string id, int count)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return (int)(Fnv1a64(id) % (ulong)count);
    }

    /// <summary>64-bit FNV-1a of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static ulong Fnv1a64(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ulong hash = FnvOffset;
        Span<byte> buffer = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[] bytes = max <= buffer.Length ? [] : new byte[max];
        Span<byte> span = max <= buffer.Length ? buffer : bytes;
        int n = Encoding.UTF8.GetBytes(text, span);
        foreach (byte b in span[..n])
        {
            hash ^= b;
            hash *= FnvPrime;
        }
        return hash;
    }

    /// <summary>Parses "I/N" (0 ≤ I &lt; N ≤ <see cref="MaxCount"/>).</summary>
    /// <exception cref="ArgumentException">Anything else, with the text given.</exception>
    public static CaptionBatchShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Trim().Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            && count is >= 1 and <= MaxCount && index < count)
            return new CaptionBatchShard(index, count);
        throw new ArgumentException($"--shard must be I/N with 0 <= I < N <= {MaxCount} (shard I of N, counting from 0), got '{text}'");
    }

    /// <summary>"I/N".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
