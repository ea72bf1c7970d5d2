namespace RegionChat.Llm.Engine.Internal;

/// <summary>Walks a <see cref="ChoiceFormat"/>'s choices as a <see cref="ByteTrie"/>: the answer so far is the start of
/// a choice, after one optional space.</summary>
internal sealed class ChoiceCursor(ByteTrie trie) : OutputCursor
{
    ByteTrie.Node node = trie.Root;
    bool started;

    public override bool Allows(ReadOnlySpan<byte> bytes) => Walk(bytes, out _, out _);

    public override void Advance(ReadOnlySpan<byte> bytes)
    {
        if (!Walk(bytes, out node, out bool moved)) throw new InvalidOperationException("the bytes do not continue a choice");
        started |= moved;
    }

    public override bool Complete => node.Value >= 0;

    public override bool Closed => node.Next.Count == 0;

    bool Walk(ReadOnlySpan<byte> bytes, out ByteTrie.Node at, out bool moved)
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
