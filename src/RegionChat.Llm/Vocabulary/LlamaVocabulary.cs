using System.Globalization;
using System.Text;
using RegionChat.Llm.Gguf;

namespace RegionChat.Llm.Vocabulary;

/// <summary>
/// A SentencePiece-style vocabulary as llama.cpp's "llama" tokenizer uses it: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 byte
/// tokens &lt;0x00&gt;…&lt;0xFF&gt;, then pieces. Built from words, each word gets "▁word" and every shorter prefix piece
/// ("▁", "▁c", "▁ca", "▁cat"): llama.cpp merges adjacent pieces whose concatenation is a token, best score first, so
/// a word is only reached through its prefixes. Longer pieces score higher so whole words win.
/// </summary>
public sealed class LlamaVocabulary
{
    /// <summary>SentencePiece's word-boundary mark U+2581, which stands for a space.</summary>
    public const string WordBoundary = "\u2581";

    public const string TokenizerModel = "llama";

    // Fixed layout of vocabularies this class builds.
    public const int BuiltUnknownId = 0;
    public const int BuiltBosId = 1;
    public const int BuiltEosId = 2;
    public const int BuiltFirstByteId = 3;
    public const int BuiltFirstPieceId = BuiltFirstByteId + 256;

    const float FillerScore = -1000f;

    readonly string[] tokens;
    readonly float[] scores;
    readonly LlamaTokenType[] types;
    readonly Dictionary<string, int> ids;

    LlamaVocabulary(string[] tokens, float[] scores, LlamaTokenType[] types, int unknownId, int bosId, int eosId, string model)
    {
        this.tokens = tokens;
        this.scores = scores;
        this.types = types;
        UnknownId = unknownId;
        BosId = bosId;
        EosId = eosId;
        Model = model;
        ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) ids.TryAdd(tokens[i], i); // first wins, as in llama.cpp
    }

    public IReadOnlyList<string> Tokens => tokens;
    public IReadOnlyList<float> Scores => scores;
    public IReadOnlyList<LlamaTokenType> Types => types;
    public int Count => tokens.Length;
    public int UnknownId { get; }
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>tokenizer.ggml.model ("llama" for vocabularies built here).</summary>
    public string Model { get; }

    /// <summary>Vocabulary of the given words (each must be non-empty and hold no whitespace), padded with filler
    /// pieces up to <paramref name="size"/> tokens when given.</summary>
    public static LlamaVocabulary FromWords(IEnumerable<string> words, int? size = null)
    {
        ArgumentNullException.ThrowIfNull(words);
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<LlamaTokenType> { LlamaTokenType.Unknown, LlamaTokenType.Control, LlamaTokenType.Control };
        var scores = new List<float> { 0f, 0f, 0f };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(ByteToken((byte)b));
            types.Add(LlamaTokenType.Byte);
            scores.Add(0f);
        }

        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (string word in words)
        {
            CheckWord(word);
            // Every prefix "▁", "▁c", "▁ca", … "▁cat", split at code points (llama.cpp splits its input per UTF-8 char).
            var piece = new StringBuilder(WordBoundary);
            AddPiece(piece.ToString());
            foreach (Rune rune in word.EnumerateRunes())
            {
                piece.Append(rune.ToString());
                AddPiece(piece.ToString());
            }
        }

        if (size is int target)
        {
            if (target < tokens.Count)
                throw new ArgumentOutOfRangeException(nameof(size), target, $"the words need {tokens.Count} tokens, more than the requested vocabulary size");
            for (int i = 0; tokens.Count < target; i++)
            {
                string filler = $"<filler_{i}>";
                if (!seen.Add(filler)) continue;
                tokens.Add(filler);
                types.Add(LlamaTokenType.Normal);
                scores.Add(FillerScore);
            }
        }
        return new LlamaVocabulary(tokens.ToArray(), scores.ToArray(), types.ToArray(), BuiltUnknownId, BuiltBosId, BuiltEosId, TokenizerModel);

        void AddPiece(string p)
        {
            if (!seen.Add(p)) return;
            tokens.Add(p);
            types.Add(LlamaTokenType.Normal);
            // Score by length in code points: longer merges first, so the whole word is what remains.
            scores.Add(p.EnumerateRunes().Count());
        }
    }

    /// <summary>Vocabulary of the whitespace-separated words of <paramref name="text"/> (punctuation stays in words).</summary>
    public static LlamaVocabulary FromText(string text, int? size = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return FromWords(SplitWords(text), size);
    }

    /// <summary>The built-in English word list (<see cref="BuiltInWords.English"/>), padded to size when given.</summary>
    public static LlamaVocabulary BuiltInEnglish(int? size = null) => FromWords(BuiltInWords.English, size);

    /// <summary>Reads the tokenizer.ggml.* keys of a GGUF file.</summary>
    public static LlamaVocabulary FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string model = file.GetStringOrNull("tokenizer.ggml.model")
            ?? throw new GgufFormatException($"{file.Path} has no tokenizer.ggml.model");
        string[] tokens = file.Contains("tokenizer.ggml.tokens") ? file.GetStringArray("tokenizer.ggml.tokens")
            : throw new GgufFormatException($"{file.Path} has no tokenizer.ggml.tokens");
        float[] scores = file.Contains("tokenizer.ggml.scores") ? file.GetArray<float>("tokenizer.ggml.scores") : new float[tokens.Length];
        LlamaTokenType[] types = file.TryGet("tokenizer.ggml.token_type", out var tt)
            ? ReadTypes(tt) : Enumerable.Repeat(LlamaTokenType.Normal, tokens.Length).ToArray();
        if (scores.Length != tokens.Length || types.Length != tokens.Length)
            throw new GgufFormatException($"{file.Path}: {tokens.Length} tokens but {scores.Length} scores and {types.Length} token types");
        int Id(string key, int fallback)
        {
            long id = file.GetInt64OrNull(key) ?? fallback;
            return id >= 0 && id < tokens.Length ? (int)id
                : throw new GgufFormatException($"{file.Path}: {key} = {id} is outside the {tokens.Length} tokens");
        }
        return new LlamaVocabulary(tokens, scores, types,
            Id("tokenizer.ggml.unknown_token_id", BuiltUnknownId), Id("tokenizer.ggml.bos_token_id", BuiltBosId),
            Id("tokenizer.ggml.eos_token_id", BuiltEosId), model);

        LlamaTokenType[] ReadTypes(GgufValue v) => v.ElementType switch
        {
            GgufValueType.Int32 => v.AsArray<int>().Select(x => (LlamaTokenType)x).ToArray(),
            GgufValueType.UInt32 => v.AsArray<uint>().Select(x => (LlamaTokenType)x).ToArray(),
            _ => throw new GgufFormatException($"{file.Path}: tokenizer.ggml.token_type is an array of {v.ElementType}, expected int32"),
        };
    }

    /// <summary>Writes tokenizer.ggml.{model, tokens, scores, token_type, bos/eos/unknown_token_id, add_bos_token,
    /// add_eos_token}.</summary>
    public void WriteTo(GgufWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.AddString("tokenizer.ggml.model", Model);
        writer.Add("tokenizer.ggml.tokens", GgufValue.Array(tokens));
        writer.Add("tokenizer.ggml.scores", GgufValue.Array(scores));
        writer.Add("tokenizer.ggml.token_type", GgufValue.Array(types.Select(t => (int)t).ToArray()));
        writer.AddUInt32("tokenizer.ggml.bos_token_id", (uint)BosId);
        writer.AddUInt32("tokenizer.ggml.eos_token_id", (uint)EosId);
        writer.AddUInt32("tokenizer.ggml.unknown_token_id", (uint)UnknownId);
        writer.AddBool("tokenizer.ggml.add_bos_token", true);
        writer.AddBool("tokenizer.ggml.add_eos_token", false);
    }

    public bool TryGetId(string piece, out int id) => ids.TryGetValue(piece, out id);

    public int IdOf(string piece) =>
        ids.TryGetValue(piece, out int id) ? id : throw new KeyNotFoundException($"piece '{piece}' is not in the vocabulary");

    /// <summary>The id of byte token &lt;0xNN&gt;.</summary>
    public int ByteId(byte b) => IdOf(ByteToken(b));

    /// <summary>Ids of "▁word" for each whitespace-separated word: how llama.cpp tokenizes text made of whole
    /// vocabulary words (without the BOS).</summary>
    public int[] WordIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SplitWords(text).Select(w => ids.TryGetValue(WordBoundary + w, out int id) ? id
            : throw new KeyNotFoundException($"word '{w}' is not a whole piece of the vocabulary")).ToArray();
    }

    /// <summary>"&lt;0x0A&gt;" style name of a byte token.</summary>
    public static string ByteToken(byte b) => "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";

    static IEnumerable<string> SplitWords(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    static void CheckWord(string word)
    {
        if (string.IsNullOrEmpty(word)) throw new ArgumentException("a vocabulary word cannot be empty");
        if (word.Any(char.IsWhiteSpace) || word.Contains(WordBoundary, StringComparison.Ordinal))
            throw new ArgumentException($"vocabulary word '{word}' holds whitespace or ▁");
    }
}
