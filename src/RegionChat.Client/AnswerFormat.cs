using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// A shape the answer keeps as it is generated (structured output): one JSON object, exactly one of given choices, the
/// JSON a JSON Schema allows, or text a regular expression matches.
/// Tokens that would leave it are never sampled; the answer can still be cut by MaxTokens or a stop string.
/// </summary>
public sealed record AnswerFormat
{
    AnswerFormat(bool jsonObject, IReadOnlyList<string> choices, string? schema = null, string? pattern = null)
    {
        IsJsonObject = jsonObject;
        Choices = choices;
        Schema = schema;
        Pattern = pattern;
    }

    /// <summary>One JSON object (nesting at most 64 deep; between tokens one space, or a
    /// newline and at most 20 spaces or tabs).</summary>
    public static AnswerFormat JsonObject { get; } = new(true, []);

    /// <summary>Exactly one of <paramref name="choices"/> (1 to 256, each 1 to 256 UTF-8 bytes; the server checks).</summary>
    public static AnswerFormat Choice(params IReadOnlyList<string> choices) => new(false, choices.ToArray());

    /// <summary>A JSON text that the JSON Schema <paramref name="schema"/> allows, within the part of JSON Schema the
    /// server supports (it refuses the rest, naming where).</summary>
    public static AnswerFormat JsonSchema(string schema) => new(false, [], schema);

    /// <summary>Text the regular expression <paramref name="pattern"/> matches whole (vLLM's guided_regex), within the part
    /// of regular expressions the server supports (it refuses the rest, naming the position).</summary>
    public static AnswerFormat Regex(string pattern) => new(false, [], pattern: pattern);

    /// <summary>The answer is one JSON object (else one of <see cref="Choices"/>, or <see cref="Schema"/>'s JSON).</summary>
    public bool IsJsonObject { get; }

    /// <summary>The allowed answers (empty for <see cref="JsonObject"/>).</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>The JSON Schema, as JSON text (null unless made by <see cref="JsonSchema"/>).</summary>
    public string? Schema { get; }

    /// <summary>The regular expression (null unless made by <see cref="Regex"/>).</summary>
    public string? Pattern { get; }

    /// <summary>The proto message (<c>SamplingParams.format</c>), for callers that build requests themselves.</summary>
    public PbV1.AnswerFormat ToProto() =>
        IsJsonObject ? new PbV1.AnswerFormat { JsonObject = new PbV1.JsonObjectFormat() }
        : Schema != null ? new PbV1.AnswerFormat { JsonSchema = new PbV1.JsonSchemaFormat { Schema = Schema } }
        : Pattern != null ? new PbV1.AnswerFormat { Regex = new PbV1.RegexFormat { Pattern = Pattern } }
        : new PbV1.AnswerFormat { Choice = new PbV1.ChoiceFormat { Choices = { Choices } } };
}
