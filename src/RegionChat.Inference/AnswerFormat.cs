using RegionChat.Llm.Engine;

namespace RegionChat.Inference;

/// <summary>What kind of shape a constrained answer takes.</summary>
public enum AnswerFormatKind { JsonObject, Choice, JsonSchema, Regex }

/// <summary>
/// A shape the answer keeps as it is generated (OpenAI's response_format json_object and json_schema, vLLM's
/// guided_choice, guided_json and guided_regex): tokens
/// that would leave it are never sampled, and the answer ends only where it is complete (or at max tokens, or a stop
/// string). Null on <see cref="SamplingOptions.Format"/> is free text.
/// </summary>
public sealed class AnswerFormat
{
    /// <summary>The engine's format once resolved: a schema is compiled once however often the format is sent.</summary>
    OutputFormat? engine;

    public const int MaxChoices = ChoiceFormat.MaxChoices, MaxChoiceBytes = ChoiceFormat.MaxChoiceBytes;

    AnswerFormat(AnswerFormatKind kind, IReadOnlyList<string> choices, string schema = "", string pattern = "")
    {
        Kind = kind;
        Choices = choices;
        Schema = schema;
        Pattern = pattern;
    }

    public AnswerFormatKind Kind { get; }

    /// <summary>The answers allowed (<see cref="AnswerFormatKind.Choice"/>); each may come after one space.</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>The JSON Schema (<see cref="AnswerFormatKind.JsonSchema"/>), as JSON text.</summary>
    public string Schema { get; }

    public const int MaxSchemaBytes = JsonSchemaFormat.MaxSchemaBytes, MaxPatternBytes = RegexFormat.MaxPatternBytes;

    /// <summary>The regular expression (<see cref="AnswerFormatKind.Regex"/>).</summary>
    public string Pattern { get; }

    /// <summary>One JSON object, nothing after it (nesting at most 64 deep; whitespace as llama.cpp's JSON
    /// grammar allows it: one space, or a newline and at most 20 spaces or tabs).</summary>
    public static AnswerFormat JsonObject { get; } = new(AnswerFormatKind.JsonObject, []);

    /// <summary>Exactly one of <paramref name="choices"/> (1 to <see cref="MaxChoices"/>, each 1 to
    /// <see cref="MaxChoiceBytes"/> UTF-8 bytes).</summary>
    public static AnswerFormat Choice(IReadOnlyList<string> choices) => new(AnswerFormatKind.Choice, choices.ToArray());

    /// <summary>A JSON text that <paramref name="schema"/> allows, within the supported part of JSON Schema (README,
    /// "Structured output"); anything else in the schema is refused, naming where.</summary>
    public static AnswerFormat JsonSchema(string schema) => new(AnswerFormatKind.JsonSchema, [], schema);

    /// <summary>Text <paramref name="pattern"/> matches whole (after one optional space, as a choice), within the
    /// supported part of regular expressions (README, "Structured output"); anything else is refused, naming where.</summary>
    public static AnswerFormat Regex(string pattern) => new(AnswerFormatKind.Regex, [], pattern: pattern);

    /// <summary>What is wrong with this format (a bad choice, a schema keyword that is not supported), as "field:
    /// description" under <paramref name="field"/>, or null; the checks a request gets, made before any is sent.</summary>
    public string? Problem(string field = "format")
    {
        string? problem = null;
        Resolve(field, (f, d) => problem ??= $"{f}: {d}");
        return problem;
    }

    /// <summary>The engine's format, or null with (field, description) reported for each problem, fields under
    /// <paramref name="field"/> (".choices[i]", ".json_schema", ".regex").</summary>
    internal OutputFormat? Resolve(string field, Action<string, string> violation) => engine ??= Compile(field, violation);

    OutputFormat? Compile(string field, Action<string, string> violation)
    {
        switch (Kind)
        {
            case AnswerFormatKind.JsonObject: return OutputFormat.JsonObject;
            case AnswerFormatKind.JsonSchema: return Compiled(() => OutputFormat.JsonSchema(Schema), field + ".json_schema", violation);
            case AnswerFormatKind.Regex: return Compiled(() => OutputFormat.Regex(Pattern), field + ".regex", violation);
        }
        bool bad = false;
        if (Choices.Count is 0 or > MaxChoices)
        {
            violation(field + ".choices", $"must hold 1 to {MaxChoices} choices, got {Choices.Count}");
            bad = true;
        }
        for (int i = 0; i < Math.Min(Choices.Count, MaxChoices); i++)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(Choices[i] ?? "");
            if (bytes is 0 or > MaxChoiceBytes)
            {
                violation($"{field}.choices[{i}]", $"must have 1 to {MaxChoiceBytes} bytes, got {bytes}");
                bad = true;
            }
        }
        return bad ? null : OutputFormat.Choice(Choices);
    }

    /// <summary>A schema or pattern compiled, or null with its refusal reported under <paramref name="field"/>.</summary>
    static OutputFormat? Compiled(Func<OutputFormat> compile, string field, Action<string, string> violation)
    {
        try { return compile(); }
        catch (ArgumentException e)
        {
            violation(field, e.Message.Split(" (Parameter")[0]);
            return null;
        }
    }
}
