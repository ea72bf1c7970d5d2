namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Accepts exactly the prefixes of the JSON texts a compiled schema allows: a stack of frames, one per value being
/// written. A token is tested on a copy of the stack.
/// </summary>
internal sealed class JsonSchemaCursor : OutputCursor
{
    readonly SchemaFrame[] stack = new SchemaFrame[JsonObjectFormat.MaxDepth + 1];
    readonly SchemaFrame[] scratch = new SchemaFrame[JsonObjectFormat.MaxDepth + 1];
    int depth;

    public JsonSchemaCursor(RootNode root)
    {
        stack[0] = new SchemaFrame { Node = root };
        depth = 1;
    }

    public override bool Allows(ReadOnlySpan<byte> bytes)
    {
        Array.Copy(stack, scratch, depth);
        int d = depth;
        foreach (byte b in bytes) if (!Step(scratch, ref d, b)) return false;
        return true;
    }

    public override void Advance(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if (!Step(stack, ref depth, b)) throw new InvalidOperationException("the bytes do not continue the schema's JSON");
    }

    /// <summary>The root's value is whole, or is a number or literal that may end here.</summary>
    public override bool Complete => depth == 1 && stack[0].Stage == 1 || depth == 2 && stack[1].Node.MayEnd(stack[1]);

    public override bool Closed => depth == 1 && stack[0].Stage == 1;

    protected override bool InPlainString => stack[depth - 1].Node switch
    {
        StringNode s => s.InText(stack[depth - 1]),
        AnyNode => stack[depth - 1].Scan.InPlainString,
        _ => false,
    };

    protected override bool FitsString(int bytes) => stack[depth - 1].Node is not StringNode s || s.Fits(stack[depth - 1], bytes);

    static bool Step(SchemaFrame[] frames, ref int depth, byte b)
    {
        while (depth > 0)
        {
            ref var f = ref frames[depth - 1];
            switch (f.Node.Step(ref f, b))
            {
                case StepResult.Consumed: return true;
                case StepResult.Rejected: return false;
                case StepResult.EndedWithByte: depth--; return true;
                case StepResult.Ended: depth--; continue;         // the enclosing value takes the byte
                case StepResult.PushChild:
                    var node = f.Child!;
                    if (node is UnionNode union && (node = union.For(b)!) == null) return false;
                    if (depth == frames.Length) return false;     // nested deeper than MaxDepth
                    frames[depth] = new SchemaFrame { Node = node };
                    node.Start(ref frames[depth]);
                    depth++;
                    continue;
            }
        }
        return false;
    }
}
