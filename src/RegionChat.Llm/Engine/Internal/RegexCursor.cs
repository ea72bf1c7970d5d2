namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Follows a <see cref="ByteNfa"/> as a deterministic automaton built as it is walked: each state is a set of the
/// automaton's states, its move on a byte computed once. A token is tested by walking its bytes from the current
/// state. One per request; the states built are capped, and past the cap they are built again from the current one.
/// </summary>
internal sealed class RegexCursor : OutputCursor
{
    public const int MaxStates = 4096;

    sealed class State(int[] members, bool accepting)
    {
        public readonly int[] Members = members;
        public readonly bool Accepting = accepting;
        public readonly State?[] Next = new State?[256];
        public bool? Closed;
    }

    readonly ByteNfa nfa;
    readonly Dictionary<string, State> states = [];
    readonly State dead;
    readonly int maxStates;
    State current;

    public RegexCursor(ByteNfa nfa, int maxStates = MaxStates)
    {
        this.nfa = nfa;
        this.maxStates = maxStates;
        dead = new State([], false) { Closed = true };
        current = Intern(Closure([nfa.Start]));
    }

    public override bool Allows(ReadOnlySpan<byte> bytes)
    {
        var at = current;
        foreach (byte b in bytes)
            if ((at = Move(at, b)) == dead) return false;
        return true;
    }

    public override void Advance(ReadOnlySpan<byte> bytes)
    {
        var at = current;
        foreach (byte b in bytes)
            if ((at = Move(at, b)) == dead) throw new InvalidOperationException("the bytes do not continue the pattern");
        current = at;
        if (states.Count > maxStates)
        {
            // Drop the states built so far (a pattern whose answers wander through many); the current one starts anew.
            states.Clear();
            current = Intern(current.Members);
        }
    }

    public override bool Complete => current.Accepting;

    /// <summary>The states built and kept (for tests of the cap).</summary>
    internal int BuiltStates => states.Count;

    public override bool Closed => current.Closed ??= Enumerable.Range(0, 256).All(b => Move(current, (byte)b) == dead);

    State Move(State from, byte b)
    {
        if (from.Next[b] is { } known) return known;
        var targets = new List<int>();
        foreach (int s in from.Members)
            foreach (var (lo, hi, to) in nfa.Edges(s))
                if (b >= lo && b <= hi) targets.Add(to);
        return from.Next[b] = targets.Count == 0 ? dead : Intern(Closure(targets));
    }

    State Intern(int[] members)
    {
        string key = string.Join(',', members);
        if (!states.TryGetValue(key, out var state))
            states[key] = state = new State(members, Array.BinarySearch(members, nfa.Accept) >= 0);
        return state;
    }

    /// <summary>The states reachable by empty edges, sorted.</summary>
    int[] Closure(IEnumerable<int> from)
    {
        var seen = new HashSet<int>();
        var stack = new Stack<int>(from);
        while (stack.Count > 0)
        {
            int s = stack.Pop();
            if (!seen.Add(s)) continue;
            foreach (int t in nfa.Empty(s)) stack.Push(t);
        }
        var members = seen.ToArray();
        Array.Sort(members);
        return members;
    }
}
