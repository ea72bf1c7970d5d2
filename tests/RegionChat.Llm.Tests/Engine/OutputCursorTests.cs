using System.Text;
using System.Text.Json;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class OutputCursorTests
{
    [Fact]
    public void TheJsonCursorTakesEachByteExactlyWhenAJsonReaderTakesThePrefix()
    {
        var random = new Random(17);
        int complete = 0, cut = 0;
        for (int n = 0; n < 3000; n++)
        {
            var text = new StringBuilder();
            Ws(random, text);
            Value(random, text, depth: 0, top: true);
            byte[] doc = Encoding.UTF8.GetBytes(text.ToString());
            if (n % 2 == 1) doc = Mutate(random, doc);

            var cursor = new JsonObjectCursor();
            int taken = 0;
            for (; taken < doc.Length; taken++)
            {
                bool allowed = cursor.Allows(doc.AsSpan(taken, 1));
                var prefix = doc.AsSpan(0, taken + 1);
                Assert.True(allowed == (JsonPrefix.IsObjectSoFar(prefix) && BlanksAsLlamaCpp(prefix)), Quote(doc, taken));
                if (!allowed) break;
                cursor.Advance(doc.AsSpan(taken, 1));
            }
            if (taken < doc.Length) { cut++; continue; }
            bool parses = IsObject(doc);
            Assert.True(parses == cursor.Complete, Quote(doc, doc.Length - 1));
            if (parses) complete++;
        }
        Assert.True(complete > 1000 && cut > 500, $"{complete} complete, {cut} cut");  // both sides were exercised
    }

    [Fact]
    public void TheJsonCursorBoundsNestingAndWhitespace()
    {
        var cursor = new JsonObjectCursor();
        cursor.Advance("{\"a\":"u8);
        for (int i = 1; i < JsonObjectFormat.MaxDepth; i++) cursor.Advance("["u8);
        Assert.False(cursor.Allows("["u8));
        Assert.False(cursor.Allows("{"u8));
        Assert.True(cursor.Allows("1]"u8));

        var blank = new JsonObjectCursor();
        Assert.True(blank.Allows(" {"u8));
        Assert.True(blank.Allows(Encoding.ASCII.GetBytes("\n" + new string('\t', JsonObjectFormat.MaxIndent) + "{")));
        Assert.False(blank.Allows(Encoding.ASCII.GetBytes("\n" + new string(' ', JsonObjectFormat.MaxIndent + 1))));
        Assert.False(blank.Allows("  "u8));
        Assert.False(blank.Allows("\r"u8));
        Assert.False(blank.Allows("\t"u8));
        blank.Advance(" {} "u8[..3]);
        Assert.True(blank.Complete && blank.Closed);
        Assert.False(blank.Allows(" "u8));
    }

    [Fact]
    public void AChoiceCursorFollowsTheChoicesAfterOneOptionalSpace()
    {
        var format = (ChoiceFormat)OutputFormat.Choice(["cat", "cats", "dog"]);
        var cursor = new ChoiceCursor(format.Trie);
        Assert.False(cursor.Complete);
        Assert.True(cursor.Allows(" ca"u8));
        Assert.True(cursor.Allows("do"u8));
        Assert.False(cursor.Allows("  cat"u8));        // one separator only
        Assert.False(cursor.Allows("cow"u8));
        cursor.Advance(" "u8);
        Assert.False(cursor.Allows(" cat"u8));
        cursor.Advance("cat"u8);
        Assert.True(cursor.Complete);
        Assert.False(cursor.Closed);                    // "cats" goes on
        cursor.Advance("s"u8);
        Assert.True(cursor.Complete && cursor.Closed);
    }

    [Fact]
    public void AMaskLeavesEndOfGenerationOnlyWhereTheFormatIsComplete()
    {
        // Tokens: 0 = end of generation, 1 = "", 2 = "{", 3 = "}", 4 = " {", 5 = "x"
        string[] pieces = ["", "", "{", "}", " {", "x"];
        var vocabulary = new OutputVocabulary(pieces.Length, t => Encoding.ASCII.GetBytes(pieces[t]), t => t == 0);
        var cursor = new JsonObjectCursor();
        float[] scores = [1, 1, 1, 1, float.NegativeInfinity, 1];
        Assert.True(cursor.Mask(scores, vocabulary));
        Assert.Equal([float.NegativeInfinity, float.NegativeInfinity, 1, float.NegativeInfinity, float.NegativeInfinity,
            float.NegativeInfinity], scores);
        cursor.Advance("{}"u8);
        scores = [1, 1, 1, 1, 1, 1];
        Assert.True(cursor.Mask(scores, vocabulary));
        Assert.Equal(1, scores[0]);
        Assert.All(scores[1..], s => Assert.Equal(float.NegativeInfinity, s));
        Assert.False(new JsonObjectCursor().Mask([1, 1, float.NegativeInfinity, 1, float.NegativeInfinity, 1], vocabulary));
    }

    [Fact]
    public void AMaskTakesPlainStringTokensWithoutReadingThemButAllowsTheSame()
    {
        // Byte tokens too: half a character (which is not plain), and the rest of one.
        byte[][] pieces = [.. new[] { "", "a", "ab", "abc", "abcd", "ééé", "\"", "a\"", "\\", "\\n", "\u0001", "}", " ", "\",\"b\":", "xyzzy12" }
            .Select(Encoding.UTF8.GetBytes), [0xC3], [0xA9], [0xA9, (byte)'a'], [0xE2, 0x82], [0x82, 0xAC], [0xAC], [(byte)'a', 0xC3], [0xFF]];
        var vocabulary = new OutputVocabulary(pieces.Length, t => pieces[t], t => t == 0);
        static OutputCursor Schema(string schema) => new JsonSchemaCursor(JsonSchemaCompiler.Compile(JsonDocument.Parse(schema).RootElement.Clone()));
        const string withString = """{"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}, "b": true}}""";
        var cursors = new (OutputCursor Cursor, string Prefix)[]
        {
            (new JsonObjectCursor(), "{\"k\": \"v"), (new JsonObjectCursor(), "{\"ke"), (Schema(withString), "{\"a\": \"xy"), (Schema("true"), "[\"s"),
            (new JsonObjectCursor(), "{\"k\": \"v\u00C3"), (Schema(withString), "{\"a\": \"x\u00E2"), (Schema("true"), "[\"s\u00E2\u0082"),
        };
        foreach (var (cursor, prefix) in cursors)
        {
            cursor.Advance(Encoding.Latin1.GetBytes(prefix));   // one byte per char: \u00C3 is the byte C3
            float[] scores = Enumerable.Repeat(1f, pieces.Length).ToArray();
            cursor.Mask(scores, vocabulary);
            for (int t = 0; t < pieces.Length; t++)
            {
                bool expected = t != 0 && pieces[t].Length > 0 && cursor.Allows(pieces[t]);
                Assert.True(expected == !float.IsNegativeInfinity(scores[t]), $"'{Convert.ToHexString(pieces[t])}' after '{prefix}'");
            }
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(ChoiceFormat.MaxChoices + 1, 1)]
    [InlineData(1, 0)]
    [InlineData(1, ChoiceFormat.MaxChoiceBytes + 1)]
    public void ABadChoiceListIsRefused(int count, int length)
    {
        var format = OutputFormat.Choice(Enumerable.Range(0, count).Select(i => new string('a', length)).ToArray());
        Assert.Throws<ArgumentException>(format.Validate);
        var sampling = SamplingParams.Greedy() with { OutputFormat = format };
        Assert.Throws<ArgumentException>(sampling.Validate);
    }

    static bool IsObject(byte[] doc)
    {
        try
        {
            using var parsed = JsonDocument.Parse(doc);
            return parsed.RootElement.ValueKind == JsonValueKind.Object && !char.IsWhiteSpace((char)doc[^1]);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    static string Quote(byte[] doc, int at) => $"byte {at} of {Encoding.UTF8.GetString(doc)}";

    static byte[] Mutate(Random random, byte[] doc)
    {
        var bytes = doc.ToList();
        // ASCII, and bytes that start, continue or cannot be UTF-8 (overlong, surrogate, past U+10FFFF) edges included
        byte[] alphabet = [.. "{}[]\":,-+.0123456789eEtrufalsn \t\n\r\\/abx\u0001"u8, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4,
            0xF5, 0xFF];
        int at = random.Next(bytes.Count + 1);
        switch (random.Next(3))
        {
            case 0 when bytes.Count > 1: bytes.RemoveAt(Math.Min(at, bytes.Count - 1)); break;
            case 1 when at < bytes.Count: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
            default: bytes.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
        }
        return [.. bytes];
    }

    static void Ws(Random random, StringBuilder text)
    {
        switch (random.Next(3))
        {
            case 1: text.Append(' '); break;
            case 2:
                text.Append('\n');
                for (int i = random.Next(4); i > 0; i--) text.Append(random.Next(2) == 0 ? ' ' : '\t');
                break;
        }
    }

    /// <summary>Whitespace outside strings as llama.cpp's JSON grammar has it: runs of one space, or a newline and at most
    /// 20 spaces or tabs (the last run may be unfinished).</summary>
    static bool BlanksAsLlamaCpp(ReadOnlySpan<byte> text)
    {
        bool inString = false, escaped = false;
        int run = 0;
        byte first = 0;
        foreach (byte b in text)
        {
            if (inString)
            {
                if (escaped) escaped = false;
                else if (b == '\\') escaped = true;
                else if (b == '"') inString = false;
                continue;
            }
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
            {
                if (run == 0) first = b;
                run++;
                if (first == ' ' ? run > 1 : first != '\n' || b is (byte)'\n' or (byte)'\r' && run > 1 || run > 1 + JsonObjectFormat.MaxIndent)
                    return false;
                continue;
            }
            run = 0;
            inString = b == '"';
        }
        return true;
    }

    static void Value(Random random, StringBuilder text, int depth, bool top = false)
    {
        int kind = top ? 0 : random.Next(depth > 4 ? 2 : 0, 7);
        switch (kind)
        {
            case 0 or 1:
                bool isObject = kind == 0;
                text.Append(isObject ? '{' : '[');
                int members = random.Next(4);
                for (int i = 0; i < members; i++)
                {
                    if (i > 0) text.Append(',');
                    Ws(random, text);
                    if (isObject)
                    {
                        String(random, text);
                        Ws(random, text);
                        text.Append(':');
                        Ws(random, text);
                    }
                    Value(random, text, depth + 1);
                    Ws(random, text);
                }
                if (members == 0) Ws(random, text);
                text.Append(isObject ? '}' : ']');
                break;
            case 2: String(random, text); break;
            case 3: text.Append(new[] { "0", "-0", "12", "-3.25", "0.5e10", "7E+2", "1e-9", "-0.0E0" }[random.Next(8)]); break;
            default: text.Append(new[] { "true", "false", "null" }[random.Next(3)]); break;
        }
    }

    static void String(Random random, StringBuilder text)
    {
        text.Append('"');
        string[] parts = ["a", "b", "é", "\\n", "\\\"", "\\\\", "\\u00e9", "\\/", " ", "x1", "€", "\U0010FFFF", "\uD7FF", "𝄞"];
        for (int i = random.Next(5); i > 0; i--) text.Append(parts[random.Next(parts.Length)]);
        text.Append('"');
    }
}
