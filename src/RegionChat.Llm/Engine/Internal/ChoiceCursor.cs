namespace RegionChat.Llm.Engine.Internal;

/// <summary>The choices of a <see cref="ChoiceFormat"/> as a byte trie, built once per format.</summary>
internal sealed class ChoiceTrie
{
    public sealed class Node
    {
        public readonly Dictionary<byte, Node> Next = [];
        public bool Ends;
    }

    public ChoiceTrie(IEnumerable<string> choices)
    {
        foreach (string choice in choices)
        {
            var node = Root;
            foreach (byte b in System.Text.Encoding.UTF8.GetBytes(choice))
            {
                if (!node.Next.TryGetValue(b, out var next)) node.Next[b] = next = new Node();
                node = next;
            }
            node.Ends = true;
        }
    }

    public Node Root { get; } = new();
}

/// <summary>Walks a <see cref="ChoiceTrie"/>: the answer so far is the start of a choice, after one optional space.</summary>
internal sealed class ChoiceCursor(ChoiceTrie trie) : OutputCursor
{
    ChoiceTrie.Node node = trie.Root;
    bool started;

    public override bool Allows(ReadOnlySpan<byte> bytes) => Walk(bytes, out _, out _);

    public override void Advance(ReadOnlySpan<byte> bytes)
    {
        if (!Walk(bytes, out node, out bool moved)) throw new InvalidOperationException("the bytes do not continue a choice");
        started |= moved;
    }

    public override bool Complete => node.Ends;

    public override bool Closed => node.Next.Count == 0;

    bool Walk(ReadOnlySpan<byte> bytes, out ChoiceTrie.Node at, out bool moved)
    {
        at = node;
        moved = started;
        foreach (byte b in bytes)
        {
            if (at.Next.TryGetValue(b, out var next)) at = next;
            else if (!moved && b == (byte)' ') { moved = true; continue; } // the one leading separator
            else return false;
            moved = true;
        }
        return true;
    }
}
