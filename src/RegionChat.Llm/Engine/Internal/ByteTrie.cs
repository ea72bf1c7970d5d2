namespace RegionChat.Llm.Engine.Internal;

/// <summary>Byte strings as a trie; each string's last node holds its index, and every node knows which indexes lie
/// below it (so a walk can stop as soon as no string it may still reach is allowed).</summary>
internal sealed class ByteTrie
{
    public sealed class Node
    {
        public readonly Dictionary<byte, Node> Next = [];
        /// <summary>The index of the string that ends here, or -1.</summary>
        public int Value = -1;
        public int Min = int.MaxValue, Max = -1;
        readonly List<int> below = [];

        public void Add(int index)
        {
            below.Add(index);
            Min = Math.Min(Min, index);
            Max = Math.Max(Max, index);
        }

        /// <summary>Whether a string with an index in [from, to] ends at or below this node.</summary>
        public bool HasValueIn(int from, int to) => Max >= from && Min <= to && below.Exists(i => i >= from && i <= to);
    }

    public Node Root { get; } = new();

    public static ByteTrie Of(IReadOnlyList<byte[]> strings)
    {
        var trie = new ByteTrie();
        for (int i = 0; i < strings.Count; i++)
        {
            var node = trie.Root;
            node.Add(i);
            foreach (byte b in strings[i])
            {
                if (!node.Next.TryGetValue(b, out var next)) node.Next[b] = next = new Node();
                node = next;
                node.Add(i);
            }
            if (node.Value < 0) node.Value = i;
        }
        return trie;
    }
}
