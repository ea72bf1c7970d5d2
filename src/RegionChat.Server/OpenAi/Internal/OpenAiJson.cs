using System.Text.Encodings.Web;
using System.Text.Json;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>How the OpenAI endpoint writes JSON: answers keep their characters as they are ("é", "'") instead of
/// \u escapes. Safe here: the responses are application/json and text/event-stream, never HTML.</summary>
internal static class OpenAiJson
{
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
