using System.Text;
using CsCheck;
using RegionChat.Llm.Engine;

namespace RegionChat.Llm.Tests.Fuzz;

/// <summary>A schema with bytes flipped, cut or inserted, then an answer edited the same way: the schema compiles or is
/// refused with an ArgumentException, and the answer's bytes are taken or refused one by one, never another exception.
/// A failure prints the seed that replays it.</summary>
public sealed class JsonSchemaProperties
{
    const string Schema = """
        {"type": "object", "properties": {"size": {"enum": ["small", "large"]},
         "n": {"anyOf": [{"type": ["integer", "null"]}, {"const": true}, {"$ref": "#/$defs/tag"}]},
         "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 1, "maxItems": 2}, "any": true,
         "note": {"type": "string", "maxLength": 5}}, "required": ["size", "tags"], "$defs": {"tag": {"const": {"a": [1]}}}}
        """;
    const string Answer = """{"size": "small", "n": -12, "tags": [{"a":[1]}], "any": {"x": [true, 1.5e2]}, "note": "h\u00e9"}""";

    static readonly byte[] Inserted = "{}[]\":,-.0123456789truefalsn \n$/#"u8.ToArray();

    static byte[] Apply(byte[] data, (int Op, int At, byte Value) edit)
    {
        int at = data.Length == 0 ? 0 : Math.Min(edit.At, data.Length - 1);
        var b = data.ToList();
        switch (edit.Op)
        {
            case 0 when b.Count > 0: b[at] ^= (byte)(1 << (edit.Value % 8)); break;
            case 1: return data[..at];
            case 2 when b.Count > 0: b.RemoveAt(at); break;
            default: b.Insert(at, Inserted[edit.Value % Inserted.Length]); break;
        }
        return [.. b];
    }

    static readonly Gen<(int, int, byte)[]> Edits = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 400], Gen.Byte).Array[0, 3];

    [Fact]
    public void AnyDamagedSchemaAndAnswerIsTakenOrRefused()
    {
        byte[] schema = Encoding.UTF8.GetBytes(Schema), answer = Encoding.UTF8.GetBytes(Answer);
        int compiled = 0;
        Gen.Select(Edits, Edits).Sample((schemaEdits, answerEdits) =>
        {
            OutputFormat format;
            try
            {
                format = OutputFormat.JsonSchema(Encoding.UTF8.GetString(schemaEdits.Aggregate(schema, Apply)));
            }
            catch (ArgumentException)
            {
                return;
            }
            compiled++;
            var cursor = format.Start();
            foreach (byte b in answerEdits.Aggregate(answer, Apply))
            {
                if (!cursor.Allows([b])) break;
                cursor.Advance([b]);
            }
            Assert.False(cursor.Closed && !cursor.Complete);
        }, iter: 3000, threads: 1);
        Assert.True(compiled > 300, $"only {compiled} schemas compiled");
    }
}
