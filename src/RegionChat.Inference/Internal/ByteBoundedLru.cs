namespace RegionChat.Inference.Internal;

/// <summary>A thread-safe LRU cache bounded by the total size of its values in bytes.</summary>
internal sealed class ByteBoundedLru<TKey, TValue>(long capacityBytes, Func<TValue, long> sizeOf) where TKey : notnull
{
    readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value, long Size)>> map = new();
    readonly LinkedList<(TKey Key, TValue Value, long Size)> order = new(); // most recent first
    readonly Lock gate = new();
    long used;

    public long UsedBytes { get { lock (gate) return used; } }
    public int Count { get { lock (gate) return map.Count; } }
    public long CapacityBytes => capacityBytes;

    public bool TryGet(TKey key, out TValue value)
    {
        lock (gate)
        {
            if (map.TryGetValue(key, out var node))
            {
                order.Remove(node);
                order.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = default!;
        return false;
    }

    /// <summary>Adds or replaces; evicts least recently used entries to fit. A value larger than the whole budget is not kept.</summary>
    public void Set(TKey key, TValue value)
    {
        long size = sizeOf(value);
        lock (gate)
        {
            if (map.Remove(key, out var old)) { order.Remove(old); used -= old.Value.Size; }
            if (size > capacityBytes) return;
            while (used + size > capacityBytes && order.Last is { } last)
            {
                order.RemoveLast();
                map.Remove(last.Value.Key);
                used -= last.Value.Size;
            }
            map[key] = order.AddFirst((key, value, size));
            used += size;
        }
    }
}
