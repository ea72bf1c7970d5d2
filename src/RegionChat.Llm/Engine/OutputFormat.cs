using System.Text;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Engine;

/// <summary>
/// A shape the answer must take, kept token by token while it is generated (constrained decoding, as llama.cpp's
/// grammars and vLLM's structured outputs do it): a token that would leave the shape is never sampled, and an
/// end-of-generation token only where the shape is complete. The answer can still end early at max tokens or a stop
/// string. Log-probabilities stay the model's own, before the constraint.
/// </summary>
public abstract class OutputFormat
{
    private protected OutputFormat() { }

    /// <summary>One JSON object (RFC 8259), leading whitespace allowed, nothing after its closing brace.</summary>
    public static OutputFormat JsonObject { get; } = new JsonObjectFormat();

    /// <summary>Exactly one of <paramref name="choices"/> (after one optional space, the word separator a SentencePiece
    /// model writes first).</summary>
    public static OutputFormat Choice(IReadOnlyList<string> choices) => new ChoiceFormat(choices);

    /// <summary>A JSON text that a JSON Schema allows (the part of it <see cref="JsonSchemaFormat"/> supports); throws
    /// ArgumentException naming the schema path of anything else.</summary>
    public static OutputFormat JsonSchema(string schema) => new JsonSchemaFormat(schema);

    /// <summary>Text that <paramref name="pattern"/> matches whole (vLLM's guided_regex, the part of regular expressions
    /// <see cref="RegexFormat"/> supports), after one optional space as a choice; throws ArgumentException naming the
    /// position of anything else.</summary>
    public static OutputFormat Regex(string pattern) => new RegexFormat(pattern);

    /// <summary>Throws ArgumentException for a format that cannot be used (no choices, an empty or overlong one).</summary>
    public abstract void Validate();

    internal abstract OutputCursor Start();
}

/// <summary>See <see cref="OutputFormat.JsonObject"/>. Nesting is at most <see cref="MaxDepth"/> deep, and whitespace
/// is what llama.cpp's JSON grammar allows (one space, or a newline and at most <see cref="MaxIndent"/> spaces or tabs),
/// so a model cannot spend its tokens on blanks. Strings hold only well-formed UTF-8 (no half character).</summary>
public sealed class JsonObjectFormat : OutputFormat
{
    public const int MaxDepth = 64;
    public const int MaxIndent = 20;

    internal JsonObjectFormat() { }

    public override void Validate() { }

    internal override OutputCursor Start() => new JsonObjectCursor();

    public override string ToString() => "json_object";
}

/// <summary>See <see cref="OutputFormat.Choice"/>.</summary>
public sealed class ChoiceFormat : OutputFormat
{
    public const int MaxChoices = 256;
    public const int MaxChoiceBytes = 256;

    ByteTrie? trie;

    internal ChoiceFormat(IReadOnlyList<string> choices)
    {
        ArgumentNullException.ThrowIfNull(choices);
        Choices = choices.ToArray();
    }

    public IReadOnlyList<string> Choices { get; }

    public override void Validate()
    {
        if (Choices.Count is 0 or > MaxChoices)
            throw new ArgumentException($"an output choice needs 1 to {MaxChoices} choices, got {Choices.Count}", nameof(Choices));
        for (int i = 0; i < Choices.Count; i++)
        {
            int bytes = Choices[i] is null ? 0 : Encoding.UTF8.GetByteCount(Choices[i]);
            if (bytes is 0 or > MaxChoiceBytes)
                throw new ArgumentException($"choice {i} must have 1 to {MaxChoiceBytes} bytes, got {bytes}", nameof(Choices));
        }
    }

    internal ByteTrie Trie => trie ??= ByteTrie.Of(Choices.Select(Encoding.UTF8.GetBytes).ToArray());

    internal override OutputCursor Start() => new ChoiceCursor(Trie);

    public override string ToString() => $"choice of {Choices.Count}";
}

/// <summary>See <see cref="OutputFormat.JsonSchema"/>. Supported: <c>type</c> (a name, or a list told apart by the
/// value's first character), <c>anyOf</c> / <c>oneOf</c> told apart the same way (enum and const alternatives merge, a
/// number takes in an integer), <c>allOf</c> of one schema, <c>properties</c> (written in their order; <c>required</c>
/// ones always, the others may be left out; no others), <c>additionalProperties</c> true or false, <c>items</c>, <c>minItems</c>, <c>maxItems</c>,
/// <c>minLength</c>, <c>maxLength</c>, <c>enum</c>, <c>const</c>, <c>$ref</c> to the schema's own <c>$defs</c> (not
/// recursive), and annotations (title, description, default, …). Any other keyword (pattern, format, minimum, …), or a
/// keyword beside <c>$ref</c> or a combination, is refused rather than ignored. Whitespace, nesting and UTF-8 as
/// <see cref="JsonObjectFormat"/>.</summary>
public sealed class JsonSchemaFormat : OutputFormat
{
    public const int MaxSchemaBytes = 65536;

    readonly RootNode root;

    internal JsonSchemaFormat(string schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (Encoding.UTF8.GetByteCount(schema) > MaxSchemaBytes)
            throw new ArgumentException($"the schema is over {MaxSchemaBytes} bytes", nameof(SamplingParams.OutputFormat));
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(schema);
            root = JsonSchemaCompiler.Compile(document.RootElement.Clone());
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ArgumentException($"the schema is not JSON: {e.Message}", nameof(SamplingParams.OutputFormat), e);
        }
        Schema = schema;
    }

    public string Schema { get; }

    public override void Validate() { }

    internal override OutputCursor Start() => new JsonSchemaCursor(root);

    public override string ToString() => "json_schema";
}

/// <summary>See <see cref="OutputFormat.Regex"/>. Supported: literals, <c>.</c> (any character but a newline),
/// classes (<c>[a-z]</c>, <c>[^…]</c> of ASCII), <c>\d \w \s</c> and <c>\D \W \S</c> (ASCII, as Python's
/// <c>re.ASCII</c>), groups (<c>( )</c>, <c>(?: )</c>, named), <c>|</c>, <c>* + ? {n} {n,} {n,m}</c> (counts up to
/// 1000; lazy forms match the same), <c>^</c> and <c>$</c> at the ends. Backreferences, lookarounds, <c>\b</c>, flags
/// and Unicode properties are refused. The answer is well-formed UTF-8.</summary>
public sealed class RegexFormat : OutputFormat
{
    public const int MaxPatternBytes = 4096;

    readonly ByteNfa nfa;

    internal RegexFormat(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (Encoding.UTF8.GetByteCount(pattern) > MaxPatternBytes)
            throw new ArgumentException($"the pattern is over {MaxPatternBytes} bytes", nameof(SamplingParams.OutputFormat));
        Pattern = pattern;
        nfa = ByteNfa.Build(RegexParser.Parse(pattern), leadingSpace: true);
    }

    public string Pattern { get; }

    public override void Validate() { }

    internal override OutputCursor Start() => new RegexCursor(nfa);

    public override string ToString() => "regex";
}
