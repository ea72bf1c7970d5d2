using RegionChat.Llm.Engine;

namespace RegionChat.Inference;

/// <summary>What kind of shape a constrained answer takes.</summary>
public enum AnswerFormatKind { JsonObject, Choice }

/// <summary>
/// A shape the answer keeps as it is generated (OpenAI's response_format json_object, vLLM's guided_choice): tokens
/// that would leave it are never sampled, and the answer ends only where it is complete (or at max tokens, or a stop
/// string). Null on <see cref="SamplingOptions.Format"/> is free text.
/// </summary>
public sealed record AnswerFormat
{
    public const int MaxChoices = ChoiceFormat.MaxChoices, MaxChoiceBytes = ChoiceFormat.MaxChoiceBytes;

    AnswerFormat(AnswerFormatKind kind, IReadOnlyList<string> choices)
    {
        Kind = kind;
        Choices = choices;
    }

    public AnswerFormatKind Kind { get; }

    /// <summary>The answers allowed (<see cref="AnswerFormatKind.Choice"/>); each may come after one space.</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>One JSON object, nothing after it (nesting at most 64 deep; whitespace as llama.cpp's JSON
    /// grammar allows it: one space, or a newline and at most 20 spaces or tabs).</summary>
    public static AnswerFormat JsonObject { get; } = new(AnswerFormatKind.JsonObject, []);

    /// <summary>Exactly one of <paramref name="choices"/> (1 to <see cref="MaxChoices"/>, each 1 to
    /// <see cref="MaxChoiceBytes"/> UTF-8 bytes).</summary>
    public static AnswerFormat Choice(IReadOnlyList<string> choices) => new(AnswerFormatKind.Choice, choices.ToArray());

    /// <summary>Reports (field, description) for each problem, fields under <paramref name="field"/>.</summary>
    internal void Check(string field, Action<string, string> violation)
    {
        if (Kind != AnswerFormatKind.Choice) return;
        if (Choices.Count is 0 or > MaxChoices) violation(field + ".choices", $"must hold 1 to {MaxChoices} choices, got {Choices.Count}");
        for (int i = 0; i < Math.Min(Choices.Count, MaxChoices); i++)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(Choices[i] ?? "");
            if (bytes is 0 or > MaxChoiceBytes) violation($"{field}.choices[{i}]", $"must have 1 to {MaxChoiceBytes} bytes, got {bytes}");
        }
    }

    internal OutputFormat ToEngine() => Kind == AnswerFormatKind.JsonObject ? OutputFormat.JsonObject : OutputFormat.Choice(Choices);
}
