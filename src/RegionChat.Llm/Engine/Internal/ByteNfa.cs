namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// A byte automaton built from a <see cref="RegexNode"/> (Thompson's construction): states with byte-range edges and
/// empty edges, one start, one accepting state. A set accepts a character as its UTF-8 bytes, and "any non-ASCII
/// character" only as well-formed UTF-8 (RFC 3629), so an answer never holds half a character.
/// </summary>
internal sealed class ByteNfa
{
    /// <summary>Bounds a move's work (a state of the cursor holds at most this many).</summary>
    public const int MaxStates = 10_000;

    readonly List<List<(byte Lo, byte Hi, int To)>> edges = [];
    readonly List<List<int>> empty = [];

    public int Start { get; private set; }
    public int Accept { get; private set; }
    public int Count => edges.Count;

    public IReadOnlyList<(byte Lo, byte Hi, int To)> Edges(int state) => edges[state];
    public IReadOnlyList<int> Empty(int state) => empty[state];

    /// <summary>Throws ArgumentException (ParamName "OutputFormat") when the pattern expands past <see cref="MaxStates"/>.</summary>
    public static ByteNfa Build(RegexNode pattern, bool leadingSpace)
    {
        var nfa = new ByteNfa();
        nfa.Start = nfa.State();
        int from = nfa.Start;
        if (leadingSpace)
        {
            // One optional space first, the word separator a SentencePiece model writes (as choices allow).
            from = nfa.State();
            nfa.Edge(nfa.Start, (byte)' ', (byte)' ', from);
            nfa.empty[nfa.Start].Add(from);
        }
        nfa.Accept = nfa.State();
        nfa.Add(pattern, from, nfa.Accept);
        return nfa;
    }

    int State()
    {
        if (edges.Count == MaxStates)
            throw new ArgumentException($"pattern: it expands to more than {MaxStates} automaton states (lower its counts)",
                nameof(SamplingParams.OutputFormat));
        edges.Add([]);
        empty.Add([]);
        return edges.Count - 1;
    }

    void Edge(int from, byte lo, byte hi, int to) => edges[from].Add((lo, hi, to));

    void Add(RegexNode node, int from, int to)
    {
        switch (node)
        {
            case RegexCharSet set: AddSet(set, from, to); break;
            case RegexConcat concat:
                for (int i = 0; i < concat.Parts.Count; i++)
                {
                    int next = i == concat.Parts.Count - 1 ? to : State();
                    Add(concat.Parts[i], from, next);
                    from = next;
                }
                if (concat.Parts.Count == 0) empty[from].Add(to);
                break;
            case RegexAlternation alternation:
                foreach (var choice in alternation.Choices) Add(choice, from, to);
                break;
            case RegexRepeat repeat:
                for (int i = 0; i < repeat.Min; i++)
                {
                    int next = State();
                    Add(repeat.Item, from, next);
                    from = next;
                }
                if (repeat.Max < 0)
                {
                    // A loop through a state of its own, so the loop's empty edges never join another path's.
                    int loop = State();
                    empty[from].Add(loop);
                    int back = State();
                    Add(repeat.Item, loop, back);
                    empty[back].Add(loop);
                    empty[loop].Add(to);
                    break;
                }
                for (int i = repeat.Min; i < repeat.Max; i++)
                {
                    empty[from].Add(to);
                    int next = i == repeat.Max - 1 ? to : State();
                    Add(repeat.Item, from, next);
                    from = next;
                }
                if (repeat.Max == repeat.Min) empty[from].Add(to);
                break;
        }
    }

    void AddSet(RegexCharSet set, int from, int to)
    {
        for (int lo = 0; lo < 128; lo++)
        {
            if (!set.Ascii[lo]) continue;
            int hi = lo;
            while (hi + 1 < 128 && set.Ascii[hi + 1]) hi++;
            Edge(from, (byte)lo, (byte)hi, to);
            lo = hi;
        }
        foreach (var bytes in set.NonAscii)
        {
            int at = from;
            for (int i = 0; i < bytes.Length; i++)
            {
                int next = i == bytes.Length - 1 ? to : State();
                Edge(at, bytes[i], bytes[i], next);
                at = next;
            }
        }
        if (set.AnyNonAscii) AddAnyNonAscii(from, to);
    }

    /// <summary>Any well-formed multi-byte UTF-8 character (RFC 3629's table).</summary>
    void AddAnyNonAscii(int from, int to)
    {
        int one = State(), two = State(), three = State();   // continuation bytes still to come
        Edge(one, 0x80, 0xBF, to);
        Edge(two, 0x80, 0xBF, one);
        Edge(three, 0x80, 0xBF, two);
        Edge(from, 0xC2, 0xDF, one);
        Continued(from, 0xE0, 0xA0, 0xBF, one);
        Edge(from, 0xE1, 0xEC, two);
        Continued(from, 0xED, 0x80, 0x9F, one);
        Edge(from, 0xEE, 0xEF, two);
        Continued(from, 0xF0, 0x90, 0xBF, two);
        Edge(from, 0xF1, 0xF3, three);
        Continued(from, 0xF4, 0x80, 0x8F, two);
    }

    /// <summary>A lead byte whose next byte has a narrower range (no overlong form, surrogate or code point past U+10FFFF).</summary>
    void Continued(int from, byte lead, byte lo, byte hi, int then)
    {
        int after = State();
        Edge(from, lead, lead, after);
        Edge(after, lo, hi, then);
    }
}
