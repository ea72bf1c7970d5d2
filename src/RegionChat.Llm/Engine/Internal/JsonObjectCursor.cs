namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// A byte-level JSON scanner that accepts exactly the prefixes of one JSON object (RFC 8259) within
/// <see cref="JsonObjectFormat"/>'s bounds. Its state is a small value, so testing a token copies it.
/// </summary>
internal sealed class JsonObjectCursor : OutputCursor
{
    State state = State.Initial;

    public override bool Allows(ReadOnlySpan<byte> bytes)
    {
        var s = state;
        foreach (byte b in bytes) if (!s.Step(b)) return false;
        return true;
    }

    public override void Advance(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if (!state.Step(b)) throw new InvalidOperationException("the bytes do not continue the JSON object");
    }

    public override bool Complete => state.Mode == Mode.Done;

    public override bool Closed => state.Mode == Mode.Done;

    protected override bool InPlainString => state.InPlainString;

    internal enum Mode : byte
    {
        Top, Value, ValueOrClose, KeyOrClose, Key, Colon, AfterValue, String, Escape, Hex, Number, Literal, Done,
    }

    enum Number : byte { Minus, Zero, Int, Dot, Fraction, Exponent, ExponentSign, ExponentDigits }

    static readonly byte[][] Literals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    internal struct State
    {
        public static State Initial => new() { Mode = Mode.Top };

        /// <summary>Any one JSON value, no whitespace before it (a schema's unconstrained parts).</summary>
        public static State AnyValue => new() { Mode = Mode.Value };

        /// <summary>Inside a string, not in an escape or a character: a token of plain string bytes may follow.</summary>
        public readonly bool InPlainString => Mode == Mode.String && !utf8.MidCharacter;

        /// <summary>The outermost value is whole: closed, or a string or literal ended.</summary>
        public readonly bool Finished => depth == 0 && Mode is Mode.AfterValue or Mode.Done;

        /// <summary>The outermost value is a number that may end here.</summary>
        public readonly bool NumberMayEnd => depth == 0 && Mode == Mode.Number && number is Number.Zero or Number.Int or Number.Fraction
            or Number.ExponentDigits;

        /// <summary>The outermost value is a whole number that <paramref name="b"/> does not extend.</summary>
        public readonly bool EndsBefore(byte b) => NumberMayEnd && !Continues(b);

        public Mode Mode;
        Number number;
        byte depth, whitespace, count, literal;
        bool key;
        ulong objects; // bit i: nesting level i is an object (else an array)
        Utf8Scanner utf8;

        /// <summary>Takes one byte; false (state undefined) when it cannot come here.</summary>
        public bool Step(byte b)
        {
            if (Mode == Mode.Number && !Continues(b)) Mode = Mode.AfterValue; // the number ended before b
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' && Mode is not (Mode.String or Mode.Escape or Mode.Hex))
                return Mode is not (Mode.Number or Mode.Literal or Mode.Done) && Blank(b);
            whitespace = 0;
            switch (Mode)
            {
                case Mode.Top: return b == '{' && Open(true);
                case Mode.Value: return StartValue(b);
                case Mode.ValueOrClose: return b == ']' ? Close() : StartValue(b);
                case Mode.KeyOrClose: return b == '}' ? Close() : StartKey(b);
                case Mode.Key: return StartKey(b);
                case Mode.Colon: return b == ':' && Set(Mode.Value);
                case Mode.AfterValue:
                    if (depth == 0) return false;
                    bool inObject = (objects >> (depth - 1) & 1) != 0;
                    if (b == ',') return Set(inObject ? Mode.Key : Mode.Value);
                    return b == (inObject ? '}' : ']') && Close();
                case Mode.String:
                    if (!utf8.Step(b)) return false;   // mid-character, a quote or a backslash is refused here too
                    if (b == '"') return Set(key ? Mode.Colon : Mode.AfterValue);
                    if (b == '\\') return Set(Mode.Escape);
                    return b >= 0x20;
                case Mode.Escape:
                    if (b == 'u') { count = 4; return Set(Mode.Hex); }
                    return b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t'
                           && Set(Mode.String);
                case Mode.Hex:
                    if (!char.IsAsciiHexDigit((char)b)) return false;
                    return --count > 0 || Set(Mode.String);
                case Mode.Number: return StepNumber(b);
                case Mode.Literal:
                    var text = Literals[literal];
                    if (b != text[count]) return false;
                    return ++count < text.Length || Set(Mode.AfterValue);
                default: return false;
            }
        }

        // llama.cpp's JSON grammar: a run of whitespace is one space, or a newline and at most MaxIndent spaces or tabs.
        const byte OneSpace = byte.MaxValue;

        bool Blank(byte b)
        {
            if (whitespace == 0)
            {
                whitespace = b == ' ' ? OneSpace : (byte)1;
                return b is (byte)' ' or (byte)'\n';
            }
            return whitespace != OneSpace && b is (byte)' ' or (byte)'\t' && whitespace++ <= JsonObjectFormat.MaxIndent;
        }

        bool Set(Mode mode)
        {
            Mode = mode;
            return true;
        }

        bool StartKey(byte b)
        {
            key = true;
            return b == '"' && Set(Mode.String);
        }

        bool StartValue(byte b)
        {
            key = false;
            switch (b)
            {
                case (byte)'{': return Open(true);
                case (byte)'[': return Open(false);
                case (byte)'"': return Set(Mode.String);
                case (byte)'-': number = Number.Minus; return Set(Mode.Number);
                case (byte)'0': number = Number.Zero; return Set(Mode.Number);
                case >= (byte)'1' and <= (byte)'9': number = Number.Int; return Set(Mode.Number);
                case (byte)'t' or (byte)'f' or (byte)'n':
                    literal = (byte)(b == 't' ? 0 : b == 'f' ? 1 : 2);
                    count = 1;
                    return Set(Mode.Literal);
                default: return false;
            }
        }

        bool Open(bool isObject)
        {
            if (depth == JsonObjectFormat.MaxDepth) return false;
            if (isObject) objects |= 1UL << depth; else objects &= ~(1UL << depth);
            depth++;
            return Set(isObject ? Mode.KeyOrClose : Mode.ValueOrClose);
        }

        bool Close()
        {
            depth--;
            return Set(depth == 0 ? Mode.Done : Mode.AfterValue);
        }

        /// <summary>Whether b extends the number (else a complete number ends before it).</summary>
        readonly bool Continues(byte b) => number switch
        {
            Number.Zero => b is (byte)'.' or (byte)'e' or (byte)'E',
            Number.Int or Number.Fraction => char.IsAsciiDigit((char)b) || b is (byte)'e' or (byte)'E' || number == Number.Int && b == '.',
            Number.ExponentDigits => char.IsAsciiDigit((char)b),
            _ => true, // an incomplete number: b must continue it
        };

        bool StepNumber(byte b)
        {
            bool digit = char.IsAsciiDigit((char)b);
            Number? next = (number, b) switch
            {
                (Number.Minus, (byte)'0') => Number.Zero,
                (Number.Minus, _) when digit => Number.Int,
                (Number.Zero or Number.Int, (byte)'.') => Number.Dot,
                (Number.Int, _) when digit => Number.Int,
                (Number.Dot or Number.Fraction, _) when digit => Number.Fraction,
                (Number.Zero or Number.Int or Number.Fraction, (byte)'e' or (byte)'E') => Number.Exponent,
                (Number.Exponent, (byte)'+' or (byte)'-') => Number.ExponentSign,
                (Number.Exponent or Number.ExponentSign or Number.ExponentDigits, _) when digit => Number.ExponentDigits,
                _ => null,
            };
            number = next ?? number;
            return next != null;
        }
    }
}
