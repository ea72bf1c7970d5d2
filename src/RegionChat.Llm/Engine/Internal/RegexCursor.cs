namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Follows a <see cref="ByteNfa"/> as a deterministic automaton built as it is walked: each state is a set of the
/// automaton's states, its move on a byte computed once. A token is tested by walking its bytes from the current
/// state. One per request; the states built are capped, and past the cap they are built again from the current one.
/// The work of building them is bounded per step too (<see cref="StepWork"/>): a pattern whose states hold thousands of
/// the automaton's states would otherwise hold the engine's thread for every sequence. Past the bound, a token that
/// needs a move not built yet is refused for this step (the answer stays within the pattern, in smaller tokens: the
/// single bytes come first in a vocabulary), and the next step has the bound again.
/// </summary>
internal sealed class RegexCursor : OutputCursor
{
    public const int MaxStates = 4096;
    /// <summary>Edges and states visited while building moves between two steps (a few milliseconds).</summary>
    public const long StepWork = 1_000_000;

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
    readonly long stepWork;
    long work;
    State current;

    public RegexCursor(ByteNfa nfa, int maxStates = MaxStates, long stepWork = StepWork)
    {
        this.nfa = nfa;
        this.maxStates = maxStates;
        this.stepWork = stepWork;
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
            if ((at = Move(at, b, budgeted: false)) == dead) throw new InvalidOperationException("the bytes do not continue the pattern");
        current = at;
        work = 0;
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

    public override bool Closed => current.Closed ??= Enumerable.Range(0, 256).All(b => Move(current, (byte)b, budgeted: false) == dead);

    /// <summary>The state after <paramref name="b"/>; dead, not remembered, when the step's work bound is spent.</summary>
    State Move(State from, byte b, bool budgeted = true)
    {
        if (from.Next[b] is { } known) return known;
        if (budgeted && work > stepWork) return dead;
        var targets = new List<int>();
        foreach (int s in from.Members)
        {
            var edges = nfa.Edges(s);
            work += edges.Count;
            foreach (var (lo, hi, to) in edges)
                if (b >= lo && b <= hi) targets.Add(to);
        }
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
            work++;
            if (!seen.Add(s)) continue;
            foreach (int t in nfa.Empty(s)) stack.Push(t);
        }
        var members = seen.ToArray();
        Array.Sort(members);
        return members;
    }
}
