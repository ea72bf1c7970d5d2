namespace RegionChat.Llm.Tokenization.Internal;

/// <summary>
/// llama.cpp's SentencePiece-style merge: start from single characters, repeatedly merge the adjacent pair whose
/// concatenation is a token with the best score (ties: leftmost), then emit each final piece as its token, or as byte
/// tokens when a single character is not in the vocabulary.
/// </summary>
internal sealed class SpmMerger
{
    readonly LlamaTokenizer vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup;

    public SpmMerger(LlamaTokenizer vocab, Dictionary<string, int> tokenToId)
    {
        this.vocab = vocab;
        lookup = tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    struct Symbol
    {
        public int Start, Length, Prev, Next;
    }

    // Higher score first; on equal scores the leftmost pair, as llama.cpp's llm_bigram_spm comparator orders them.
    sealed class BestFirst : IComparer<(float Score, int Left)>
    {
        public static readonly BestFirst Instance = new();
        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            int byScore = b.Score.CompareTo(a.Score);
            return byScore != 0 ? byScore : a.Left.CompareTo(b.Left);
        }
    }

    /// <summary>Appends the tokens of already-escaped text ("▁" for spaces) to output.</summary>
    public void Tokenize(string text, List<int> output)
    {
        if (text.Length == 0) return;
        var symbols = new List<Symbol>(text.Length);
        for (int offs = 0; offs < text.Length;)
        {
            int len = char.IsHighSurrogate(text[offs]) && offs + 1 < text.Length && char.IsLowSurrogate(text[offs + 1]) ? 2 : 1;
            int index = symbols.Count;
            symbols.Add(new Symbol { Start = offs, Length = len, Prev = index - 1, Next = offs + len == text.Length ? -1 : index + 1 });
            offs += len;
        }

        var queue = new PriorityQueue<(int Left, int Right, int Size), (float, int)>(BestFirst.Instance);
        void TryAddPair(int left, int right)
        {
            if (left == -1 || right == -1) return;
            var s = symbols[left];
            int size = s.Length + symbols[right].Length;
            if (!lookup.TryGetValue(text.AsSpan(s.Start, size), out int id)) return;
            queue.Enqueue((left, right, size), (vocab.Score(id), left));
        }

        for (int i = 1; i < symbols.Count; i++) TryAddPair(i - 1, i);

        while (queue.TryDequeue(out var pair, out _))
        {
            var left = symbols[pair.Left];
            var right = symbols[pair.Right];
            // Stale entry: one side was merged away or grew since the pair was queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != pair.Size) continue;
            left.Length += right.Length;
            left.Next = right.Next;
            right.Length = 0;
            symbols[pair.Left] = left;
            symbols[pair.Right] = right;
            if (right.Next >= 0)
            {
                var next = symbols[right.Next];
                next.Prev = pair.Left;
                symbols[right.Next] = next;
            }
            TryAddPair(left.Prev, pair.Left);
            TryAddPair(pair.Left, left.Next);
        }

        // Every merged piece is a token by construction; only single characters can be missing.
        Span<byte> utf8 = stackalloc byte[8];
        for (int i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = text.AsSpan(symbols[i].Start, symbols[i].Length);
            if (lookup.TryGetValue(piece, out int id)) output.Add(id);
            else
            {
                int n = System.Text.Encoding.UTF8.GetBytes(piece, utf8);
                for (int j = 0; j < n; j++) output.Add(vocab.ByteToToken(utf8[j], piece));
            }
        }
    }
}
