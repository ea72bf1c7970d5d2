namespace RegionChat.Llm.Engine.Internal;

/// <summary>What a schema node's frame did with a byte.</summary>
internal enum StepResult : byte
{
    Rejected,
    Consumed,
    /// <summary>The value is whole; the byte belongs to the enclosing frame.</summary>
    Ended,
    /// <summary>The byte closed the value.</summary>
    EndedWithByte,
    /// <summary>A value starts with this byte: push <see cref="SchemaFrame.Child"/> and give it the byte.</summary>
    PushChild,
}

/// <summary>One value being written, on <see cref="JsonSchemaCursor"/>'s stack. A plain struct, so testing a token
/// copies the stack.</summary>
internal struct SchemaFrame
{
    public SchemaNode Node;
    public byte Stage, Whitespace, Escape;
    /// <summary>Object: the next property that may come; array: items so far; string: characters so far.</summary>
    public int Count;
    /// <summary>Where a key or a literal stands in its trie.</summary>
    public ByteTrie.Node? At;
    /// <summary>Numbers and unconstrained values.</summary>
    public JsonObjectCursor.State Scan;
    /// <summary>A string's text.</summary>
    public Utf8Scanner Utf8;
    /// <summary>Set with <see cref="StepResult.PushChild"/>.</summary>
    public SchemaNode? Child;

    /// <summary>llama.cpp's JSON grammar: a run of whitespace is one space, or a newline and at most 20 spaces or tabs.</summary>
    public bool Blank(byte b)
    {
        const byte oneSpace = byte.MaxValue;
        if (Whitespace == 0)
        {
            Whitespace = b == ' ' ? oneSpace : (byte)1;
            return b is (byte)' ' or (byte)'\n';
        }
        return Whitespace != oneSpace && b is (byte)' ' or (byte)'\t' && Whitespace++ <= JsonObjectFormat.MaxIndent;
    }

    public static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';
}

/// <summary>A compiled schema: how a frame of this node takes bytes.</summary>
internal abstract class SchemaNode
{
    public virtual void Start(ref SchemaFrame f) { }

    public abstract StepResult Step(ref SchemaFrame f, byte b);

    /// <summary>The value may end here (only numbers and literals that another byte could still extend).</summary>
    public virtual bool MayEnd(in SchemaFrame f) => false;

    /// <summary>The bytes a value of this node may start with (no whitespace: the enclosing value takes that).</summary>
    public abstract IEnumerable<byte> FirstBytes { get; }

    protected static readonly byte[] NumberStarts = "-0123456789"u8.ToArray();
}

/// <summary>The whole answer: whitespace, then the value, then nothing.</summary>
internal sealed class RootNode(SchemaNode value) : SchemaNode
{
    public SchemaNode Value { get; } = value;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        if (f.Stage == 1) return StepResult.Rejected;
        if (SchemaFrame.IsBlank(b)) return f.Blank(b) ? StepResult.Consumed : StepResult.Rejected;
        f.Stage = 1;
        f.Child = Value;
        return StepResult.PushChild;
    }

    public override IEnumerable<byte> FirstBytes => Value.FirstBytes;
}

/// <summary>An object with its declared properties, in their order; the optional ones may be left out.</summary>
internal sealed class ObjectNode(IReadOnlyList<ObjectNode.Property> properties) : SchemaNode
{
    public sealed record Property(string Name, SchemaNode Value, bool Required);

    readonly IReadOnlyList<Property> properties = properties;

    public override IEnumerable<byte> FirstBytes => "{"u8.ToArray();
    /// <summary>The keys as written after their opening quote (escaped, closing quote included), each leaf = its index.</summary>
    readonly ByteTrie keys = ByteTrie.Of(properties.Select(p => JsonLiteral.Key(p.Name)).ToArray());
    readonly int[] nextRequired = NextRequired(properties);

    const byte Open = 0, KeyOrClose = 1, Key = 2, InKey = 3, Colon = 4, Value = 5, AfterValue = 6;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        bool blank = SchemaFrame.IsBlank(b);
        if (blank && f.Stage is KeyOrClose or Key or Colon or Value or AfterValue)
            return f.Blank(b) ? StepResult.Consumed : StepResult.Rejected;
        f.Whitespace = 0;
        switch (f.Stage)
        {
            case Open: return b == '{' ? Next(ref f, KeyOrClose) : StepResult.Rejected;
            case KeyOrClose when b == '}': return nextRequired[f.Count] < 0 ? StepResult.EndedWithByte : StepResult.Rejected;
            case KeyOrClose or Key:
                if (b != '"' || f.Count == properties.Count) return StepResult.Rejected;
                f.At = keys.Root;
                return Next(ref f, InKey);
            case InKey:
                if (f.At!.Next.GetValueOrDefault(b) is not { } at || !at.HasValueIn(f.Count, Last(f.Count))) return StepResult.Rejected;
                f.At = at;
                if (at.Value >= 0) { f.Count = at.Value + 1; return Next(ref f, Colon); }
                return StepResult.Consumed;
            case Colon: return b == ':' ? Next(ref f, Value) : StepResult.Rejected;
            case Value:
                f.Child = properties[f.Count - 1].Value;
                f.Stage = AfterValue;
                return StepResult.PushChild;
            case AfterValue when b == ',': return f.Count < properties.Count ? Next(ref f, Key) : StepResult.Rejected;
            case AfterValue when b == '}': return nextRequired[f.Count] < 0 ? StepResult.EndedWithByte : StepResult.Rejected;
            default: return StepResult.Rejected;
        }
    }

    static StepResult Next(ref SchemaFrame f, byte stage)
    {
        f.Stage = stage;
        return StepResult.Consumed;
    }

    /// <summary>The last property that may come next: the first required one from <paramref name="from"/> on (or the last).</summary>
    int Last(int from) => nextRequired[from] >= 0 ? nextRequired[from] : properties.Count - 1;

    static int[] NextRequired(IReadOnlyList<Property> properties)
    {
        var next = new int[properties.Count + 1];
        next[properties.Count] = -1;
        for (int i = properties.Count - 1; i >= 0; i--) next[i] = properties[i].Required ? i : next[i + 1];
        return next;
    }
}

/// <summary>An array of items of one schema, between a minimum and a maximum count.</summary>
internal sealed class ArrayNode(SchemaNode items, int minItems, int maxItems) : SchemaNode
{
    const byte Open = 0, ItemOrClose = 1, AfterItem = 2, Item = 3;

    public override IEnumerable<byte> FirstBytes => "["u8.ToArray();

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        if (SchemaFrame.IsBlank(b) && f.Stage != Open) return f.Blank(b) ? StepResult.Consumed : StepResult.Rejected;
        f.Whitespace = 0;
        switch (f.Stage)
        {
            case Open:
                if (b != '[') return StepResult.Rejected;
                f.Stage = ItemOrClose;
                return StepResult.Consumed;
            case ItemOrClose when b == ']': return minItems == 0 ? StepResult.EndedWithByte : StepResult.Rejected;
            case ItemOrClose or Item:
                if (f.Count >= maxItems) return StepResult.Rejected;
                f.Count++;
                f.Stage = AfterItem;
                f.Child = items;
                return StepResult.PushChild;
            case AfterItem when b == ',':
                if (f.Count >= maxItems) return StepResult.Rejected;
                f.Stage = Item;
                return StepResult.Consumed;
            case AfterItem when b == ']': return f.Count >= minItems ? StepResult.EndedWithByte : StepResult.Rejected;
            default: return StepResult.Rejected;
        }
    }
}

/// <summary>A string of a bounded number of characters (an escape counts as one).</summary>
internal sealed class StringNode(int minLength, int maxLength) : SchemaNode
{
    const byte Open = 0, Text = 1, Escape = 2, Hex = 3;

    public override IEnumerable<byte> FirstBytes => "\""u8.ToArray();

    public bool InText(in SchemaFrame f) => f.Stage == Text && !f.Utf8.MidCharacter;

    /// <summary>Whether that many more bytes of plain text fit under maxLength (a character is at least one byte).</summary>
    public bool Fits(in SchemaFrame f, int bytes) => (long)f.Count + bytes <= maxLength;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        switch (f.Stage)
        {
            case Open:
                if (b != '"') return StepResult.Rejected;
                f.Stage = Text;
                return StepResult.Consumed;
            case Text:
                if (!f.Utf8.Step(b)) return StepResult.Rejected;
                if (b == '"') return f.Count >= minLength ? StepResult.EndedWithByte : StepResult.Rejected;
                if (b < 0x20) return StepResult.Rejected;
                if ((b & 0xC0) != 0x80 && f.Count++ >= maxLength) return StepResult.Rejected; // a UTF-8 continuation byte adds none
                if (b == '\\') f.Stage = Escape;
                return StepResult.Consumed;
            case Escape:
                if (b == 'u') { f.Escape = 4; f.Stage = Hex; return StepResult.Consumed; }
                f.Stage = Text;
                return b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t'
                    ? StepResult.Consumed : StepResult.Rejected;
            default:
                if (!char.IsAsciiHexDigit((char)b)) return StepResult.Rejected;
                if (--f.Escape == 0) f.Stage = Text;
                return StepResult.Consumed;
        }
    }
}

/// <summary>A number, or an integer (no fraction, no exponent).</summary>
internal sealed class NumberNode(bool integer) : SchemaNode
{
    public bool Integer { get; } = integer;

    public override IEnumerable<byte> FirstBytes => NumberStarts;

    public override void Start(ref SchemaFrame f) => f.Scan = JsonObjectCursor.State.AnyValue;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        if (f.Stage == 0 && !(b == '-' || char.IsAsciiDigit((char)b))) return StepResult.Rejected;
        f.Stage = 1;
        if (f.Scan.EndsBefore(b)) return StepResult.Ended;
        if (Integer && b is (byte)'.' or (byte)'e' or (byte)'E') return StepResult.Rejected;
        return f.Scan.Step(b) ? StepResult.Consumed : StepResult.Rejected;
    }

    public override bool MayEnd(in SchemaFrame f) => f.Scan.NumberMayEnd;
}

/// <summary>One of a set of JSON texts (enum, const, booleans, null), written exactly as listed (compact).</summary>
internal sealed class LiteralNode(IReadOnlyList<byte[]> texts) : SchemaNode
{
    readonly ByteTrie trie = ByteTrie.Of(texts);

    public IReadOnlyList<byte[]> Texts { get; } = texts;

    public override IEnumerable<byte> FirstBytes => trie.Root.Next.Keys;

    public override void Start(ref SchemaFrame f) => f.At = trie.Root;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        if (f.At!.Next.GetValueOrDefault(b) is { } at)
        {
            f.At = at;
            return at.Value >= 0 && at.Next.Count == 0 ? StepResult.EndedWithByte : StepResult.Consumed;
        }
        return f.At.Value >= 0 ? StepResult.Ended : StepResult.Rejected;
    }

    public override bool MayEnd(in SchemaFrame f) => f.At!.Value >= 0;
}

/// <summary>Any JSON value (a schema that says nothing more), or any object.</summary>
internal sealed class AnyNode(bool objectOnly) : SchemaNode
{
    public override IEnumerable<byte> FirstBytes => objectOnly ? "{"u8.ToArray() : "{[\"tfn"u8.ToArray().Concat(NumberStarts);

    public override void Start(ref SchemaFrame f) =>
        f.Scan = objectOnly ? JsonObjectCursor.State.Initial : JsonObjectCursor.State.AnyValue;

    public override StepResult Step(ref SchemaFrame f, byte b)
    {
        if (f.Scan.EndsBefore(b)) return StepResult.Ended;
        if (!f.Scan.Step(b)) return StepResult.Rejected;
        return f.Scan.Finished ? StepResult.EndedWithByte : StepResult.Consumed;
    }

    public override bool MayEnd(in SchemaFrame f) => f.Scan.NumberMayEnd;
}

/// <summary>Alternatives (a list of types, anyOf, oneOf), told apart by the value's first byte.</summary>
internal sealed class UnionNode(IReadOnlyList<SchemaNode> alternatives, SchemaNode?[] byFirstByte) : SchemaNode
{
    public IReadOnlyList<SchemaNode> Alternatives { get; } = alternatives;

    public SchemaNode? For(byte b) => byFirstByte[b];

    public override IEnumerable<byte> FirstBytes => Enumerable.Range(0, 256).Where(b => byFirstByte[b] != null).Select(b => (byte)b);

    public override StepResult Step(ref SchemaFrame f, byte b) => StepResult.Rejected; // replaced by its alternative at the start
}
