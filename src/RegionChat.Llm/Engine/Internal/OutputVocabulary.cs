using System.Text;
using System.Text.Unicode;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>Every token's output bytes and whether it ends generation, read once per model for constrained
/// answers (<see cref="OutputFormat"/>), and whether a format can be written with these tokens at all.</summary>
internal sealed class OutputVocabulary
{
    readonly byte[][] pieces;
    readonly bool[] endOfGeneration;
    readonly bool[] singleByte = new bool[256];
    readonly bool[] plainString;

    public OutputVocabulary(int count, Func<int, byte[]> piece, Func<int, bool> endsGeneration)
    {
        pieces = new byte[count][];
        endOfGeneration = new bool[count];
        plainString = new bool[count];
        for (int t = 0; t < count; t++)
        {
            pieces[t] = piece(t);
            endOfGeneration[t] = endsGeneration(t);
            if (pieces[t].Length == 1 && !endOfGeneration[t]) singleByte[pieces[t][0]] = true;
            plainString[t] = !endOfGeneration[t] && pieces[t].Length > 0 && pieces[t].AsSpan().IndexOfAnyInRange((byte)0, (byte)0x1F) < 0
                             && pieces[t].AsSpan().IndexOfAny((byte)'"', (byte)'\\') < 0
                             && Utf8.IsValid(pieces[t]);
        }
        HasEndOfGeneration = endOfGeneration.Contains(true);
    }

    public int Count => pieces.Length;

    public bool HasEndOfGeneration { get; }

    public ReadOnlySpan<byte> Piece(int token) => (uint)token < (uint)pieces.Length ? pieces[token] : [];

    /// <summary>The token's bytes can stand anywhere inside a JSON string (between characters) and leave it open: whole
    /// UTF-8 characters, no quote, no backslash, no control character. Most of a vocabulary; a constrained answer
    /// inside a string takes them without reading them.</summary>
    public bool IsPlainString(int token) => (uint)token < (uint)plainString.Length && plainString[token];

    public bool IsEndOfGeneration(int token) => (uint)token < (uint)endOfGeneration.Length && endOfGeneration[token];

    /// <summary>Throws ArgumentException (ParamName "OutputFormat") when the model cannot write <paramref name="format"/>:
    /// no end-of-generation token to end it, a JSON object without a one-byte token for each printable ASCII character
    /// (llama vocabularies have them as byte tokens), or a choice made of bytes no token writes alone and that the
    /// tokenizer does not write back either.</summary>
    public void CheckWritable(OutputFormat format, Func<string, byte[]> roundTrip)
    {
        if (!HasEndOfGeneration)
            throw new ArgumentException("the model has no end-of-generation token, so a constrained answer could not end",
                nameof(SamplingParams.OutputFormat));
        switch (format)
        {
            case JsonObjectFormat or JsonSchemaFormat:
                for (int b = 0x20; b < 0x7F; b++)
                    if (!singleByte[b])
                        throw new ArgumentException($"the model's vocabulary has no token for '{(char)b}' alone, which a JSON " +
                                                    "object may need", nameof(SamplingParams.OutputFormat));
                break;
            case ChoiceFormat choice:
                for (int i = 0; i < choice.Choices.Count; i++)
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(choice.Choices[i]);
                    if (bytes.All(b => singleByte[b]) || WritesBack(roundTrip(choice.Choices[i]), bytes)) continue;
                    throw new ArgumentException($"choice {i} cannot be written with the model's tokens", nameof(SamplingParams.OutputFormat));
                }
                break;
        }
    }

    // The tokenizer may put SentencePiece's word separator in front, which a choice allows.
    static bool WritesBack(byte[] written, byte[] choice) =>
        written.AsSpan().SequenceEqual(choice) || written.Length > 0 && written[0] == (byte)' ' && written.AsSpan(1).SequenceEqual(choice);
}
