using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using RegionChat.Data.Text.Internal;

namespace RegionChat.Data.Text;

/// <summary>
/// OpenAI CLIP's byte-level BPE tokenizer (<c>clip/simple_tokenizer.py</c>), id for id: the text is HTML-unescaped twice
/// (Python's <c>html.unescape</c>, HTML5 entities), stripped, its whitespace runs collapsed to one space and lower-cased
/// (Python's <c>str.lower</c>); the reference's pre-split
/// <c>&lt;|startoftext|&gt;|&lt;|endoftext|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c> (ignoring case,
/// over code points) cuts it into pieces, each piece's UTF-8 bytes become the 256 byte symbols and are merged by the
/// ranked merges of <c>bpe_simple_vocab_16e6.txt.gz</c> (the first 48,894), the last symbol carrying the word end
/// <c>&lt;/w&gt;</c>. Vocabulary: 256 bytes, 256 bytes with <c>&lt;/w&gt;</c>, the merges, then
/// <c>&lt;|startoftext|&gt;</c> 49406 and <c>&lt;|endoftext|&gt;</c> 49407 (49,408 ids).
/// <para>The reference also runs <c>ftfy.fix_text</c> first when ftfy is installed; the reference ids of the goldens
/// (<c>tokenizer-cases.json</c>) show none of its repairs (a "ﬁ" ligature stays three bytes), so neither does this
/// class: text with mojibake, ligatures, full-width forms or curly quotes tokenizes as the reference without ftfy does.</para>
/// Thread-safe.
/// </summary>
public sealed class ClipBpeTokenizer : IClipTokenizer
{
    public const int StartOfTextId = 49406, EndOfTextId = 49407, DefaultContextLength = 77;
    public const string StartOfText = "<|startoftext|>", EndOfText = "<|endoftext|>";

    /// <summary>The resource name of the shipped vocabulary (CLIP's, MIT licence: Text/CLIP-LICENSE.txt).</summary>
    public const string EmbeddedVocabulary = "bpe_simple_vocab_16e6.txt.gz";

    const int MergeCount = 49152 - 256 - 2;
    const int MaxCachedPieces = 100_000;

    static readonly Lazy<ClipBpeTokenizer> Shipped = new(() =>
    {
        using var stream = typeof(ClipBpeTokenizer).Assembly.GetManifestResourceStream(EmbeddedVocabulary)
            ?? throw new InvalidOperationException($"RegionChat.Data lacks its embedded {EmbeddedVocabulary}");
        return new ClipBpeTokenizer(stream, "embedded " + EmbeddedVocabulary);
    });

    static readonly string[] ByteSymbols = BuildByteSymbols();

    readonly Dictionary<string, int> encoder;
    readonly Dictionary<(string, string), int> ranks;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);   // the reference's cache, bounded

    /// <summary>Reads a gzip-compressed merges file (CLIP's format: a version line, then "a b" per line).</summary>
    /// <param name="gzipMerges">The .txt.gz stream.</param>
    /// <param name="source">What the stream is, for error messages.</param>
    /// <param name="contextLength">Positions of a tokenized text (CLIP: 77).</param>
    public ClipBpeTokenizer(Stream gzipMerges, string source, int contextLength = DefaultContextLength)
    {
        ArgumentNullException.ThrowIfNull(gzipMerges);
        if (contextLength is < 2 or > 4096) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "must be in 2..4096");
        ContextLength = contextLength;
        string[] lines;
        try
        {
            using var gzip = new GZipStream(gzipMerges, CompressionMode.Decompress, leaveOpen: true);
            using var reader = new StreamReader(gzip, new UTF8Encoding(false, true));
            lines = reader.ReadToEnd().Split('\n');
        }
        catch (Exception e) when (e is InvalidDataException or DecoderFallbackException or IOException)
        {
            throw new InvalidDataException($"{source}: not a gzip-compressed CLIP BPE merges file ({e.Message})", e);
        }
        if (lines.Length < MergeCount + 1)
            throw new InvalidDataException($"{source}: holds {lines.Length - 1} merges, CLIP's vocabulary needs {MergeCount}");
        var vocab = new List<string>(49408);
        vocab.AddRange(ByteSymbols);
        vocab.AddRange(ByteSymbols.Select(s => s + "</w>"));
        ranks = new Dictionary<(string, string), int>(MergeCount);
        for (int i = 0; i < MergeCount; i++)
        {
            var parts = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new InvalidDataException($"{source}: line {i + 2} is not a merge \"a b\"");
            ranks[(parts[0], parts[1])] = i;   // dict(zip(merges, range(...))): a later duplicate wins
            vocab.Add(parts[0] + parts[1]);
        }
        vocab.Add(StartOfText);
        vocab.Add(EndOfText);
        encoder = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++) encoder[vocab[i]] = i;   // the reference's dict(zip(...)): a later duplicate wins
        if (encoder[StartOfText] != StartOfTextId || encoder[EndOfText] != EndOfTextId)
            throw new InvalidDataException($"{source}: the markers do not get ids {StartOfTextId} and {EndOfTextId}");
        VocabularySize = vocab.Count;
    }

    ClipBpeTokenizer(ClipBpeTokenizer other, int contextLength)
    {
        encoder = other.encoder;
        ranks = other.ranks;
        cache = other.cache;
        VocabularySize = other.VocabularySize;
        ContextLength = contextLength;
    }

    /// <summary>The same vocabulary with another number of positions (CLIP: 77).</summary>
    public ClipBpeTokenizer WithContextLength(int contextLength) =>
        contextLength == ContextLength ? this
        : contextLength is < 2 or > 4096 ? throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "must be in 2..4096")
        : new(this, contextLength);

    /// <summary>The tokenizer over the vocabulary shipped in this assembly (loaded once).</summary>
    public static ClipBpeTokenizer Default => Shipped.Value;

    /// <summary>Reads a .txt.gz merges file.</summary>
    public static ClipBpeTokenizer FromFile(string path, int contextLength = DefaultContextLength)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CLIP BPE vocabulary not found: {path}", path);
        using var stream = File.OpenRead(path);
        return new ClipBpeTokenizer(stream, path, contextLength);
    }

    public int ContextLength { get; }

    public int VocabularySize { get; }

    /// <summary>The BPE ids of a text, without markers (the reference's <c>encode</c>).</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (string piece in PreSplit(Clean(text)))
        {
            if (piece is StartOfText or EndOfText)
            {
                ids.Add(encoder[piece]);
                continue;
            }
            ids.AddRange(Bpe(piece));
        }
        return [.. ids];
    }

    /// <summary>
    /// [&lt;|startoftext|&gt;, ids…, &lt;|endoftext|&gt;], unpadded, cut to <see cref="ContextLength"/> with the last id set
    /// to &lt;|endoftext|&gt; (the reference's <c>tokenize(truncate=True)</c>); the end position is the first position of
    /// the largest id, where CLIP reads the text features (<c>argmax</c>).
    /// </summary>
    public ClipTokens Tokenize(string text)
    {
        var body = Encode(text);
        int length = Math.Min(body.Length + 2, ContextLength);
        var ids = new int[length];
        ids[0] = StartOfTextId;
        Array.Copy(body, 0, ids, 1, Math.Min(body.Length, length - 2));
        ids[^1] = EndOfTextId;
        int end = 0;
        for (int i = 1; i < ids.Length; i++) if (ids[i] > ids[end]) end = i;
        return new ClipTokens(ids, end);
    }

    /// <summary>The text of ids (the reference's <c>decode</c>: word ends become spaces).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var decoder = DecoderTable();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= decoder.Length) throw new ArgumentOutOfRangeException(nameof(ids), id, $"outside the vocabulary of {VocabularySize}");
            string token = decoder[id];
            if (token is StartOfText or EndOfText) bytes.AddRange(Encoding.UTF8.GetBytes(token));
            else foreach (char c in token.Replace("</w>", " ", StringComparison.Ordinal)) bytes.Add(c == ' ' ? (byte)' ' : ByteOf(c));
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    string[]? decoderTable;

    string[] DecoderTable()
    {
        if (decoderTable != null) return decoderTable;
        var table = new string[VocabularySize];
        foreach (var (token, id) in encoder) table[id] = token;
        return decoderTable = table;
    }

    static readonly Dictionary<char, byte> SymbolBytes = BuildByteValues().Select((b, i) => (b, i))
        .ToDictionary(p => ByteSymbols[p.i][0], p => (byte)p.b);

    static byte ByteOf(char c) => SymbolBytes[c];

    /// <summary>The reference's basic_clean + whitespace_clean + lower (no ftfy: see the class remarks).</summary>
    internal static string Clean(string text)
    {
        text = PythonText.Strip(PythonHtml.Unescape(PythonHtml.Unescape(text)));
        text = PythonText.Strip(PythonText.CollapseWhitespace(text));
        return PythonText.Lower(text);
    }

    /// <summary>The reference's pre-split regex, applied over code points (findall: unmatched whitespace is skipped).</summary>
    internal static List<string> PreSplit(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var pieces = new List<string>();
        int i = 0;
        while (i < runes.Length)
        {
            int start = i;
            if (StartsWith(runes, i, StartOfText) || StartsWith(runes, i, EndOfText))
            {
                i += StartsWith(runes, i, StartOfText) ? StartOfText.Length : EndOfText.Length;
            }
            else if (runes[i].Value == '\'' && Contraction(runes, i + 1) is > 0 and var n)
            {
                i += 1 + n;
            }
            else if (IsLetter(runes[i]))
            {
                while (i < runes.Length && IsLetter(runes[i])) i++;
            }
            else if (IsNumber(runes[i]))
            {
                i++;
            }
            else if (!PythonText.IsSpace(runes[i]))
            {
                while (i < runes.Length && !PythonText.IsSpace(runes[i]) && !IsLetter(runes[i]) && !IsNumber(runes[i])) i++;
            }
            else
            {
                i++;
                continue;
            }
            var sb = new StringBuilder();
            for (int k = start; k < i; k++) sb.Append(runes[k].ToString());
            pieces.Add(sb.ToString());
        }
        return pieces;
    }

    // 's 't 're 've 'm 'll 'd, in the regex's order (first match wins), ignoring case.
    static int Contraction(Rune[] runes, int at)
    {
        foreach (string tail in (string[])["s", "t", "re", "ve", "m", "ll", "d"])
            if (StartsWith(runes, at, tail)) return tail.Length;
        return 0;
    }

    static bool StartsWith(Rune[] runes, int at, string ascii)
    {
        if (at + ascii.Length > runes.Length) return false;
        for (int k = 0; k < ascii.Length; k++)
            if (char.ToLowerInvariant(ascii[k]) != (runes[at + k].Value < 128 ? char.ToLowerInvariant((char)runes[at + k].Value) : -1)) return false;
        return true;
    }

    static bool IsLetter(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter;

    static bool IsNumber(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
        or UnicodeCategory.OtherNumber;

    // One pre-split piece → its ids: UTF-8 bytes as byte symbols, '</w>' on the last, then merges lowest rank first.
    int[] Bpe(string piece)
    {
        if (cache.TryGetValue(piece, out var cached)) return cached;
        var bytes = Encoding.UTF8.GetBytes(piece);
        var word = new List<string>(bytes.Length);
        foreach (byte b in bytes) word.Add(ByteSymbols[ByteIndex[b]]);
        word[^1] += "</w>";
        while (word.Count > 1)
        {
            int best = int.MaxValue;
            (string, string) bigram = default;
            for (int k = 0; k + 1 < word.Count; k++)
                if (ranks.TryGetValue((word[k], word[k + 1]), out int rank) && rank < best)
                {
                    best = rank;
                    bigram = (word[k], word[k + 1]);
                }
            if (best == int.MaxValue) break;
            var merged = new List<string>(word.Count);
            for (int k = 0; k < word.Count;)
            {
                if (k + 1 < word.Count && word[k] == bigram.Item1 && word[k + 1] == bigram.Item2)
                {
                    merged.Add(bigram.Item1 + bigram.Item2);
                    k += 2;
                }
                else
                {
                    merged.Add(word[k]);
                    k++;
                }
            }
            word = merged;
        }
        var ids = word.Select(s => encoder[s]).ToArray();
        if (cache.Count >= MaxCachedPieces) cache.Clear();
        cache.TryAdd(piece, ids);
        return ids;
    }

    // bytes_to_unicode(): the printable Latin-1 bytes stand for themselves, the others for 256 + n, in byte order of `bs`.
    static readonly int[] ByteIndex = BuildByteIndex();

    static int[] BuildByteValues()
    {
        var bs = new List<int>();
        for (int b = '!'; b <= '~'; b++) bs.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.Add(b);
        for (int b = 0; b < 256; b++) if (!bs.Contains(b)) bs.Add(b);
        return [.. bs];
    }

    static string[] BuildByteSymbols()
    {
        var bs = BuildByteValues();
        var symbols = new string[256];
        int n = 0;
        for (int i = 0; i < 256; i++)
        {
            int b = bs[i];
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            symbols[i] = ((char)(printable ? b : 256 + n++)).ToString();
        }
        return symbols;
    }

    static int[] BuildByteIndex()
    {
        var bs = BuildByteValues();
        var index = new int[256];
        for (int i = 0; i < 256; i++) index[bs[i]] = i;
        return index;
    }
}
