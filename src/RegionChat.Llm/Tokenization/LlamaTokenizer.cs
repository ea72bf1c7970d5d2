using System.Text;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Tokenization.Internal;
using RegionChat.Llm.Vocabulary;

namespace RegionChat.Llm.Tokenization;

/// <summary>
/// Text ↔ token ids exactly as llama.cpp's SentencePiece-style ("llama" / SPM) tokenizer does for the same vocabulary:
/// optional BOS, a space prefix, spaces escaped to "▁", best-score pair merging from single characters, byte tokens
/// (&lt;0xNN&gt;) for characters outside the vocabulary; decoding reassembles bytes into UTF-8 and drops the space
/// prefix of the first piece the way llama.cpp's detokenizer does.
/// </summary>
public sealed class LlamaTokenizer
{
    const string SpaceEscape = "\u2581";

    readonly string[] texts;
    readonly float[] scores;
    readonly LlamaTokenType[] types;
    readonly Dictionary<string, int> tokenToId;
    readonly int[] specialBySize;
    readonly SpmMerger merger;

    /// <summary>A tokenizer over plain vocabulary data (the contents of the GGUF <c>tokenizer.ggml.*</c> keys).</summary>
    /// <param name="tokens">Token texts, "▁" for spaces, byte tokens as &lt;0xNN&gt;.</param>
    /// <param name="scores">Merge scores (higher merges first); all 0 when null.</param>
    /// <param name="tokenTypes">GGUF token types; all <see cref="LlamaTokenType.Normal"/> when null.</param>
    /// <param name="bosId">Beginning-of-sequence id (llama.cpp's default 1).</param>
    /// <param name="eosId">End-of-sequence id (default 2).</param>
    /// <param name="unknownId">Unknown-token id (default 0).</param>
    /// <param name="addSpacePrefix"><c>tokenizer.ggml.add_space_prefix</c> (default true).</param>
    /// <param name="addBos"><c>tokenizer.ggml.add_bos_token</c> (default true): whether a requested BOS is added at all.</param>
    /// <param name="addEos"><c>tokenizer.ggml.add_eos_token</c> (default false).</param>
    public LlamaTokenizer(
        IReadOnlyList<string> tokens,
        IReadOnlyList<float>? scores = null,
        IReadOnlyList<LlamaTokenType>? tokenTypes = null,
        int bosId = 1,
        int eosId = 2,
        int unknownId = 0,
        bool addSpacePrefix = true,
        bool addBos = true,
        bool addEos = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) throw new ArgumentException("the vocabulary has no tokens", nameof(tokens));
        if (scores != null && scores.Count != tokens.Count)
            throw new ArgumentException($"{scores.Count} scores for {tokens.Count} tokens", nameof(scores));
        if (tokenTypes != null && tokenTypes.Count != tokens.Count)
            throw new ArgumentException($"{tokenTypes.Count} token types for {tokens.Count} tokens", nameof(tokenTypes));

        int n = tokens.Count;
        texts = new string[n];
        this.scores = new float[n];
        types = new LlamaTokenType[n];
        tokenToId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            // llama.cpp renames empty entries so that every text maps to one id.
            string text = string.IsNullOrEmpty(tokens[i]) ? $"[EMPTY_{i}]" : tokens[i];
            if (!tokenToId.TryAdd(text, i))
                throw new ArgumentException($"token text '{text}' appears twice (ids {tokenToId[text]} and {i}); llama.cpp refuses such a vocabulary",
                    nameof(tokens));
            texts[i] = text;
            this.scores[i] = scores?[i] ?? 0f;
            types[i] = tokenTypes?[i] ?? LlamaTokenType.Normal;
        }

        // Ids outside the vocabulary keep llama.cpp's defaults, as its loader does.
        BosId = bosId >= 0 && bosId < n ? bosId : 1;
        EosId = eosId >= 0 && eosId < n ? eosId : 2;
        UnknownId = unknownId >= 0 && unknownId < n ? unknownId : 0;
        AddSpacePrefix = addSpacePrefix;
        AddBos = addBos;
        AddEos = addEos;

        // Control, user-defined and unknown tokens are split out of raw text before merging, longest first.
        specialBySize = Enumerable.Range(0, n)
            .Where(i => types[i] is LlamaTokenType.Control or LlamaTokenType.UserDefined or LlamaTokenType.Unknown)
            .OrderByDescending(i => Encoding.UTF8.GetByteCount(texts[i]))
            .ToArray();
        merger = new SpmMerger(this, tokenToId);
    }

    /// <summary>The tokenizer llama.cpp builds from a GGUF's tokenizer.ggml.* keys (model "llama" only).</summary>
    public static LlamaTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var vocabulary = LlamaVocabulary.FromGguf(file);
        if (vocabulary.Model != LlamaVocabulary.TokenizerModel)
            throw new GgufFormatException($"{file.Path}: tokenizer '{vocabulary.Model}' is not the SentencePiece-style \"llama\" tokenizer");
        return FromVocabulary(vocabulary,
            addSpacePrefix: file.GetBoolOrNull("tokenizer.ggml.add_space_prefix") ?? true,
            addBos: file.GetBoolOrNull("tokenizer.ggml.add_bos_token") ?? true,
            addEos: file.GetBoolOrNull("tokenizer.ggml.add_eos_token") ?? false);
    }

    /// <summary>The tokenizer of a GGUF file on disk.</summary>
    public static LlamaTokenizer FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        return FromGguf(file);
    }

    /// <summary>The tokenizer of a vocabulary (the flags default to what <see cref="LlamaVocabulary.WriteTo"/> writes).</summary>
    public static LlamaTokenizer FromVocabulary(LlamaVocabulary vocabulary, bool addSpacePrefix = true, bool addBos = true, bool addEos = false)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        return new LlamaTokenizer(vocabulary.Tokens, vocabulary.Scores, vocabulary.Types, vocabulary.BosId, vocabulary.EosId,
            vocabulary.UnknownId, addSpacePrefix, addBos, addEos);
    }

    /// <summary>Number of tokens.</summary>
    public int Count => texts.Length;

    public int BosId { get; }
    public int EosId { get; }
    public int UnknownId { get; }
    public bool AddSpacePrefix { get; }
    public bool AddBos { get; }
    public bool AddEos { get; }

    /// <summary>The stored text of a token ("▁" for spaces).</summary>
    public string TokenText(int id) => texts[CheckId(id)];

    /// <summary>The token's merge score.</summary>
    public float Score(int id) => scores[CheckId(id)];

    /// <summary>The token's GGUF type.</summary>
    public LlamaTokenType TokenType(int id) => types[CheckId(id)];

    /// <summary>The id of a token text, or null when absent.</summary>
    public int? TokenId(string text) => tokenToId.TryGetValue(text, out int id) ? id : null;

    /// <summary>
    /// Token ids of text, as llama.cpp's <c>llama_tokenize(text, add_special: addBos, parse_special)</c> returns them.
    /// With <paramref name="parseSpecial"/> false only user-defined tokens are matched literally in the text.
    /// </summary>
    public int[] Encode(string text, bool addBos = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        // A C# string can hold lone surrogates; UTF-8 (what llama.cpp receives) turns them into U+FFFD.
        if (text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF')) text = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

        var output = new List<int>(text.Length / 2 + 2);
        if (addBos && AddBos) output.Add(BosId);
        bool prevSpecial = true; // the first text fragment gets the space prefix
        foreach (var (raw, token) in Partition(text, parseSpecial))
        {
            if (raw is null)
            {
                output.Add(token);
                prevSpecial = true;
                continue;
            }
            string piece = AddSpacePrefix && prevSpecial ? " " + raw : raw;
            merger.Tokenize(piece.Replace(" ", SpaceEscape, StringComparison.Ordinal), output);
            prevSpecial = false;
        }
        if (addBos && AddEos) output.Add(EosId);
        return output.ToArray();
    }

    /// <summary>
    /// Text of token ids, as llama.cpp's <c>llama_detokenize(remove_special, unparse_special)</c> gives it: the leading
    /// space of the first piece is dropped (kept after a removed BOS, as llama.cpp does), control and unknown tokens
    /// are silent unless <paramref name="unparseSpecial"/>, byte tokens are reassembled into UTF-8.
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool removeSpecial = false, bool unparseSpecial = false) =>
        Encoding.UTF8.GetString(DecodeBytes(ids, removeSpecial, unparseSpecial));

    /// <summary>The UTF-8 bytes <see cref="Decode"/> would decode (a streaming caller can cut at any token).</summary>
    public byte[] DecodeBytes(IReadOnlyList<int> ids, bool removeSpecial = false, bool unparseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int start = 0, end = ids.Count;
        bool removeSpace = AddSpacePrefix;
        if (removeSpecial && AddBos && end > 0 && ids[0] == BosId)
        {
            removeSpace = false;
            start = 1;
        }
        if (removeSpecial && AddEos && end > start && ids[end - 1] == EosId) end--;

        var bytes = new List<byte>();
        for (int i = start; i < end; i++)
        {
            var piece = PieceBytes(ids[i], unparseSpecial);
            int skip = removeSpace && piece.Length > 0 && piece[0] == (byte)' ' ? 1 : 0;
            for (int j = skip; j < piece.Length; j++) bytes.Add(piece[j]);
            removeSpace = false;
        }
        return bytes.ToArray();
    }

    /// <summary>UTF-8 bytes of one token as llama.cpp's <c>llama_token_to_piece(lstrip 0)</c> gives them.</summary>
    public byte[] PieceBytes(int id, bool special = false)
    {
        var type = types[CheckId(id)];
        bool isSpecial = type is LlamaTokenType.Unknown or LlamaTokenType.Control;
        if (isSpecial && !special) return [];
        return type switch
        {
            LlamaTokenType.Unknown or LlamaTokenType.Control or LlamaTokenType.UserDefined => Encoding.UTF8.GetBytes(texts[id]),
            LlamaTokenType.Normal => Encoding.UTF8.GetBytes(texts[id].Replace(SpaceEscape, " ", StringComparison.Ordinal)),
            LlamaTokenType.Byte => [TokenToByte(id)],
            _ => [], // unused and undefined tokens print nothing
        };
    }

    internal int ByteToToken(byte b, ReadOnlySpan<char> character)
    {
        if (tokenToId.TryGetValue($"<0x{b:X2}>", out int id)) return id;
        // llama.cpp falls back to the raw byte as a one-character token.
        if (b < 0x80 && tokenToId.TryGetValue(((char)b).ToString(), out id)) return id;
        throw new ArgumentException(
            $"the vocabulary has neither '{character.ToString()}' nor the byte token <0x{b:X2}> (llama.cpp fails on such text)");
    }

    byte TokenToByte(int id)
    {
        string t = texts[id];
        // llama.cpp reads the two hex digits after "<0x" (strtol stops at the first non-hex character).
        int value = 0;
        for (int i = 3; i < Math.Min(5, t.Length); i++)
        {
            if (!char.IsAsciiHexDigit(t[i])) break;
            value = value * 16 + HexValue(t[i]);
        }
        return (byte)value;
    }

    static int HexValue(char c) => c <= '9' ? c - '0' : (char.ToUpperInvariant(c) - 'A' + 10);

    /// <summary>Raw text fragments (token = -1) and special tokens found in them, in order.</summary>
    IEnumerable<(string? Raw, int Token)> Partition(string text, bool parseSpecial)
    {
        if (text.Length == 0) yield break;
        var fragments = new List<(string? Raw, int Token)> { (text, -1) };
        foreach (int id in specialBySize)
        {
            if (!parseSpecial && types[id] is LlamaTokenType.Control or LlamaTokenType.Unknown) continue;
            string special = texts[id];
            var next = new List<(string? Raw, int Token)>(fragments.Count);
            foreach (var f in fragments)
            {
                if (f.Raw is null) { next.Add(f); continue; }
                int from = 0;
                for (int at; (at = f.Raw.IndexOf(special, from, StringComparison.Ordinal)) >= 0; from = at + special.Length)
                {
                    if (at > from) next.Add((f.Raw[from..at], -1));
                    next.Add((null, id));
                }
                if (from < f.Raw.Length) next.Add((f.Raw[from..], -1));
            }
            fragments = next;
        }
        foreach (var f in fragments) yield return f;
    }

    int CheckId(int id) =>
        (uint)id < (uint)texts.Length ? id
            : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the vocabulary (0..{texts.Length - 1})");
}
