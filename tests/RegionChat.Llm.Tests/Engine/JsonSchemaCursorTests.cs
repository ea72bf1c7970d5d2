using System.Text;
using System.Text.Json;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Tests.Engine;

public class JsonSchemaCursorTests
{
    const string Region = """
        {"type": "object", "title": "region", "additionalProperties": false,
         "properties": {
           "size": {"enum": ["small", "large"]},
           "color": {"$ref": "#/$defs/color"},
           "count": {"type": "integer", "description": "how many"},
           "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 2},
           "note": {"type": ["string", "null"], "maxLength": 5},
           "score": {"type": "number"}},
         "required": ["size", "color", "count", "tags"],
         "$defs": {"color": {"type": "string", "enum": ["red", "blue", "yellow"]}}}
        """;

    static JsonSchemaCursor Cursor(string schema) => new(JsonSchemaCompiler.Compile(JsonDocument.Parse(schema).RootElement.Clone()));

    /// <summary>How many bytes the cursor takes, and whether it may end there.</summary>
    static (int Taken, bool Complete) Run(string schema, string text)
    {
        var cursor = Cursor(schema);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (!cursor.Allows(bytes.AsSpan(i, 1))) return (i, cursor.Complete);
            cursor.Advance(bytes.AsSpan(i, 1));
        }
        return (bytes.Length, cursor.Complete);
    }

    static void Accepted(string schema, string text) => Assert.Equal((Encoding.UTF8.GetByteCount(text), true), Run(schema, text));

    static void RefusedAt(string schema, string text, string at)
    {
        int expected = Encoding.UTF8.GetByteCount(text[..text.LastIndexOf(at, StringComparison.Ordinal)]);
        Assert.Equal(expected, Run(schema, text).Taken);
    }

    [Theory]
    [InlineData("""{"size":"small","color":"red","count":3,"tags":["a"]}""")]
    [InlineData(""" {"size": "large", "color": "yellow", "count": -12, "tags": ["ab\"c", "d"], "note": null, "score": 1.5e3}""")]
    [InlineData("{\n  \"size\":\"small\",\n\t\"color\":\"blue\",\"count\":0,\"tags\":[\"éé\"],\"note\":\"héllo\"}")]
    public void ARegionSchemaTakesWhatItAllows(string text) => Accepted(Region, text);

    [Theory]
    [InlineData("""{"color":"red""", "color")]                                       // out of order: size first
    [InlineData("""{"size":"smal","color""", "\",\"color")]                           // not an enum value
    [InlineData("""{"size":"small","color":"green""", "green")]
    [InlineData("""{"size":"small","color":"red","count":1.5""", ".5")]               // an integer
    [InlineData("""{"size":"small","color":"red","count":1}""", "}")]                 // tags is required
    [InlineData("""{"size":"small","color":"red","count":1,"tags":[]""", "]")]        // minItems 1
    [InlineData("""{"size":"small","color":"red","count":1,"tags":["a","b","c""", ",\"c")] // maxItems 2
    [InlineData("""{"size":"small","color":"red","count":1,"tags":["abcde""", "e")]  // maxLength 4
    [InlineData("""{"size":"small","color":"red","count":1,"tags":["a"],"extra""", "extra")]
    [InlineData("""{"size":"small","color":"red","count":1,"tags":["a"],"score":1,"note""", ",\"note")] // note before score: score was the last
    [InlineData("""{"size":"small","color":"red","count":1,"tags":["a"]} """, " ")]   // nothing after the object
    [InlineData("""{"size":"small",  "color""", " \"color")]                          // one space, not two
    public void ARegionSchemaRefusesWhatItDoesNot(string text, string at) => RefusedAt(Region, text, at);

    [Fact]
    public void RandomInstancesAreTakenWholeAndMutantsOnlyWhenTheyStillFit()
    {
        var random = new Random(3);
        int mutantsTaken = 0;
        for (int n = 0; n < 2000; n++)
        {
            string text = Instance(random);
            Accepted(Region, text);
            var bytes = Encoding.UTF8.GetBytes(text).ToList();
            int at = random.Next(bytes.Count);
            const string alphabet = "{}[]\":,-.0123456789eabcdlrsu \n";
            if (random.Next(2) == 0) bytes.RemoveAt(at); else bytes.Insert(at, (byte)alphabet[random.Next(alphabet.Length)]);
            string mutant = Encoding.UTF8.GetString(bytes.ToArray());
            if (Run(Region, mutant) == (bytes.Count, true))
            {
                mutantsTaken++;
                Assert.True(Fits(mutant), mutant);
            }
        }
        Assert.InRange(mutantsTaken, 1, 1999);
    }

    [Theory]
    [InlineData("C3A9 E282AC F09D849E F48FBFBF ED9FBF EE8080 7F", -1)]  // é € 𝄞 U+10FFFF U+D7FF U+E000 DEL
    [InlineData("61 80", 1)]            // a continuation byte alone
    [InlineData("C3 22", 1)]            // the closing quote inside a character
    [InlineData("C3 C3", 1)]
    [InlineData("C0 AF", 0)]            // overlong forms
    [InlineData("E0 80", 1)]
    [InlineData("F0 8F", 1)]
    [InlineData("ED A0", 1)]            // a surrogate
    [InlineData("F4 90", 1)]            // past U+10FFFF
    [InlineData("F5", 0)]
    [InlineData("E2 82 41", 2)]
    public void StringsTakeOnlyWellFormedUtf8(string hex, int refusedAt)
    {
        byte[] text = Convert.FromHexString(hex.Replace(" ", ""));
        int at = refusedAt < 0 ? text.Length : Convert.FromHexString(string.Concat(hex.Split(' ').Take(refusedAt))).Length;
        foreach (string schema in new[] { """{"type": "string"}""", "true", """{"type": "array", "items": {"type": "string", "maxLength": 9}}""" })
        {
            var cursor = Cursor(schema);
            cursor.Advance(schema.Contains("array") ? "[\""u8 : "\""u8);
            int taken = 0;
            while (taken < text.Length && cursor.Allows(text.AsSpan(taken, 1))) cursor.Advance(text.AsSpan(taken++, 1));
            Assert.True(taken == at, $"{schema}: took {taken} bytes of {hex}");
            if (refusedAt < 0) Assert.True(cursor.Allows("\""u8));
        }
        var json = new JsonObjectCursor();
        json.Advance("{\""u8);
        Assert.Equal(refusedAt < 0, json.Allows(text));
        byte[] value = [.. "{\"k\": \""u8, .. text, .. "\"}"u8];
        Assert.Equal(refusedAt < 0, new JsonObjectCursor().Allows(value));
    }

    [Fact]
    public void OnlyAWholeValueMayEnd()
    {
        var cursor = Cursor("""{"type": "integer"}""");
        cursor.Advance("12"u8);
        Assert.True(cursor.Complete);
        Assert.False(cursor.Closed);                       // more digits may follow
        Assert.False(cursor.Allows(" "u8));
        var literal = Cursor("""{"enum": [1, 12, "x"]}""");
        literal.Advance("1"u8);
        Assert.True(literal.Complete && !literal.Closed);
        literal.Advance("2"u8);
        Assert.True(literal.Complete && literal.Closed);
        var any = Cursor("""{"type": "object"}""");
        Assert.True(any.Allows("""{"a": [1, {"b": null}]}"""u8));
        Assert.False(any.Allows("[]"u8));
        Accepted("true", """ [1, "two", {"three": 3}]""");
        Accepted("""{"type": "object", "properties": {}}""", "{}");
        const string pair = """{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}""";
        Accepted(pair, "[1, 2]");
        RefusedAt(pair, "[1]", "]");
        RefusedAt(pair, "[1,2,3,", ",");
        RefusedAt("""{"type": "object", "properties": {}}""", """{"a""", "\"a");
    }

    [Theory]
    [InlineData("""{"type": "string", "pattern": "^a"}""", "schema.pattern")]
    [InlineData("""{"anyOf": [{"type": "string"}, {"type": "string", "maxLength": 2}]}""", "schema.anyOf[1]")]
    [InlineData("""{"anyOf": [{"type": ["integer", "null"]}, {"enum": [1, 2]}]}""", "schema.anyOf[1]: its values can start with '1'")]
    [InlineData("""{"oneOf": [{"type": "object"}, true]}""", "schema.oneOf[1]")]
    [InlineData("""{"anyOf": []}""", "schema.anyOf: must be a list")]
    [InlineData("""{"allOf": [{"type": "string"}, {"maxLength": 3}]}""", "schema.allOf: only an allOf of one")]
    [InlineData("""{"type": "string", "anyOf": [{"maxLength": 3}]}""", "schema.type: is not supported beside anyOf")]
    [InlineData("""{"$ref": "#/$defs/s", "maxLength": 3, "$defs": {"s": {"type": "string"}}}""", "schema.maxLength: is not supported beside $ref")]
    [InlineData("""{"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0}]}""", "schema.anyOf[1].minimum")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "number", "minimum": 0}}}""", "schema.properties.a.minimum")]
    [InlineData("""{"type": "object", "additionalProperties": {"type": "string"}}""", "schema.additionalProperties")]
    [InlineData("""{"type": "array", "minItems": 3, "maxItems": 2}""", "schema.maxItems")]
    [InlineData("""{"type": "date"}""", "schema.type")]
    [InlineData("""{"$ref": "#/$defs/node", "$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}""", "recursive")]
    [InlineData("""{"$ref": "https://example.com/schema"}""", "schema.$ref")]
    [InlineData("""{"type": "object", "properties": {"a": true}, "required": ["b"]}""", "schema.required")]
    [InlineData("""[1]""", "schema")]
    public void UnsupportedSchemasAreRefusedNamingWhere(string schema, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => OutputFormat.JsonSchema(schema));
        Assert.Contains(named, e.Message);
        Assert.Equal(nameof(SamplingParams.OutputFormat), e.ParamName);
    }

    [Fact]
    public void ASchemaThatIsNotJsonOrTooLargeIsRefused()
    {
        // Three definitions, each 25 arrays deep around a reference to the next: 75 levels, though no JSON nests past 64.
        static string Arrays(string inner) => string.Concat(Enumerable.Repeat("{\"type\": \"array\", \"items\": ", 25)) + inner + new string('}', 25);
        string deep = "{\"$ref\": \"#/$defs/a0\", \"$defs\": {" + string.Join(", ", Enumerable.Range(0, 3).Select(i =>
            $"\"a{i}\": " + Arrays($"{{\"$ref\": \"#/$defs/a{i + 1}\"}}"))) + ", \"a3\": {\"type\": \"null\"}}}";
        Assert.Contains("more than 64 deep", Assert.Throws<ArgumentException>(() => OutputFormat.JsonSchema(deep)).Message);
        // A 17 KB enum referenced 70 times: 1.2 MB once expanded, from a schema of 19 KB.
        string wide = "{\"type\": \"array\", \"items\": [REFS], \"$defs\": {\"e\": {\"enum\": [" +
                      string.Join(",", Enumerable.Range(0, 1000).Select(i => $"\"value-{i:D9}\"")) + "]}}}";
        string refs = "{\"type\": \"object\", \"properties\": {" +
                      string.Join(", ", Enumerable.Range(0, 70).Select(i => $"\"p{i}\": {{\"$ref\": \"#/$defs/e\"}}")) + "}}";
        Assert.Contains("expands to more than", Assert.Throws<ArgumentException>(() => OutputFormat.JsonSchema(wide.Replace("[REFS]", refs))).Message);
        Assert.Contains("not JSON", Assert.Throws<ArgumentException>(() => OutputFormat.JsonSchema("{\"type\": ")).Message);
        string big = "{\"enum\": [" + string.Join(",", Enumerable.Range(0, 20_000).Select(i => $"\"{i}\"")) + "]}";
        Assert.Contains("bytes", Assert.Throws<ArgumentException>(() => OutputFormat.JsonSchema(big)).Message);
    }

    /// <summary>As pydantic writes optional fields, unions of literals and a described nested model.</summary>
    const string Pydantic = """
        {"type": "object", "title": "Answer",
         "properties": {
           "kind": {"anyOf": [{"const": "circle"}, {"const": "square"}], "title": "Kind"},
           "shape": {"allOf": [{"$ref": "#/$defs/Shape"}], "description": "the region's shape"},
           "label": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "default": null},
           "parent": {"anyOf": [{"$ref": "#/$defs/Shape"}, {"type": "null"}], "default": null},
           "size": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "maxItems": 2}, {"enum": [true, false]}]},
           "score": {"anyOf": [{"type": "integer"}, {"type": "number"}, {"type": "null"}]}},
         "required": ["kind", "shape", "size"],
         "$defs": {"Shape": {"type": "object", "properties": {"sides": {"type": "integer"}}, "required": ["sides"]}}}
        """;

    [Theory]
    [InlineData("""{"kind":"circle","shape":{"sides":0},"label":null,"parent":null,"size":3,"score":null}""")]
    [InlineData("""{"kind": "square", "shape": {"sides": 4}, "label": "abc", "parent": {"sides": 3}, "size": [1, 2], "score": 0.5}""")]
    [InlineData("""{"kind":"square","shape":{"sides":4},"size":true,"score":-2}""")]
    [InlineData("""{"kind":"circle","shape":{"sides":1},"size":false}""")]
    public void AnyOfOneOfAndAllOfTakeEachAlternative(string text) => Accepted(Pydantic, text);

    [Theory]
    [InlineData("""{"kind":"triangle""", "triangle")]                                  // neither const
    [InlineData("""{"kind":"circle","shape":null""", "null")]                          // allOf's one schema: an object
    [InlineData("""{"kind":"circle","shape":{"sides":1},"label":"abcd""", "d")]        // the string alternative's maxLength
    [InlineData("""{"kind":"circle","shape":{"sides":1},"label":nil""", "il")]
    [InlineData("""{"kind":"circle","shape":{"sides":1},"parent":{}""", "}")]          // the object alternative's required
    [InlineData("""{"kind":"circle","shape":{"sides":1},"size":"3""", "\"3")]         // no string among size's alternatives
    [InlineData("""{"kind":"circle","shape":{"sides":1},"size":[1,2,3""", ",3")]
    [InlineData("""{"kind":"circle","shape":{"sides":1},"size":1.5""", ".5")]         // the integer alternative
    [InlineData("""{"kind":"circle","shape":{"sides":1},"size":1,"score":true""", "true")]
    public void AnyOfOneOfAndAllOfRefuseWhatNoAlternativeTakes(string text, string at) => RefusedAt(Pydantic, text, at);

    [Fact]
    public void OneAlternativeIsThatAlternative()
    {
        Accepted("""{"anyOf": [{"type": "string", "maxLength": 1}]}""", "\"a\"");
        RefusedAt("""{"anyOf": [{"type": "string", "maxLength": 1}]}""", "\"ab\"", "b");
        Accepted("""{"type": ["number", "integer"]}""", "1.5");        // a number takes in the integer
        Accepted("""{"anyOf": [{"enum": ["a", "b"]}, {"const": "b"}, {"type": "boolean"}]}""", "\"b\"");
        Accepted("""{"anyOf": [{"enum": ["a", "b"]}, {"const": "b"}, {"type": "boolean"}]}""", "false");
    }

    static string Instance(Random random)
    {
        string Ws() => random.Next(3) switch { 0 => "", 1 => " ", _ => "\n" + new string(' ', random.Next(4)) };
        string Str(int max) => JsonSerializer.Serialize(new string("ab\"é\\x"[random.Next(6)], random.Next(max + 1)),
            new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var members = new List<string>
        {
            $"\"size\":{Ws()}\"{(random.Next(2) == 0 ? "small" : "large")}\"",
            $"\"color\":{Ws()}\"{new[] { "red", "blue", "yellow" }[random.Next(3)]}\"",
            $"\"count\":{Ws()}{random.Next(-50, 50)}",
            $"\"tags\":{Ws()}[{string.Join("," + Ws(), Enumerable.Range(0, random.Next(1, 3)).Select(_ => Str(4)))}]",
        };
        if (random.Next(2) == 0) members.Add($"\"note\":{Ws()}{(random.Next(2) == 0 ? "null" : Str(5))}");
        if (random.Next(2) == 0) members.Add($"\"score\":{Ws()}{random.Next(-9, 9)}.{random.Next(100)}e{random.Next(-3, 3)}");
        return Ws() + "{" + Ws() + string.Join("," + Ws(), members) + Ws() + "}";
    }

    /// <summary>The region schema checked by hand on a parsed document (order included, as the cursor writes it).</summary>
    static bool Fits(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var props = doc.RootElement.EnumerateObject().ToArray();
            string[] order = ["size", "color", "count", "tags", "note", "score"];
            int[] at = props.Select(p => Array.IndexOf(order, p.Name)).ToArray();
            if (at.Any(i => i < 0) || !at.SequenceEqual(at.Order()) || at.Distinct().Count() != at.Length || at.Length < 4 || at[3] != 3)
                return false;
            var o = doc.RootElement;
            return o.GetProperty("size").GetString() is "small" or "large"
                   && o.GetProperty("color").GetString() is "red" or "blue" or "yellow"
                   && o.GetProperty("count").TryGetInt64(out _) && !o.GetProperty("count").GetRawText().Contains('.')
                   && o.GetProperty("tags").GetArrayLength() is 1 or 2
                   && o.GetProperty("tags").EnumerateArray().All(t => t.GetString()!.Length <= 4)
                   && (!o.TryGetProperty("note", out var note) || note.ValueKind == JsonValueKind.Null || note.GetString()!.Length <= 5)
                   && (!o.TryGetProperty("score", out var score) || score.ValueKind == JsonValueKind.Number)
                   && text[^1] == '}';
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return false;
        }
    }
}
