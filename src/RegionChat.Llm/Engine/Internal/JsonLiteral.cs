using System.Text.Encodings.Web;
using System.Text.Json;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>JSON texts as a constrained answer must write them: compact, UTF-8 kept as it is (not \u escapes).</summary>
internal static class JsonLiteral
{
    static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Of(JsonElement value) => JsonSerializer.SerializeToUtf8Bytes(value, Compact);

    /// <summary>A property name after its opening quote, closing quote included.</summary>
    public static byte[] Key(string name) => JsonSerializer.SerializeToUtf8Bytes(name, Compact)[1..];
}
