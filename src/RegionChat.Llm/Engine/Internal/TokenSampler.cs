namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Picks the next token from a logits row, in llama.cpp's default order: logit biases, penalties, top-k, top-p, min-p,
/// temperature, seeded draw. Temperature 0 is the exact argmax (lowest id on ties). An output format first takes out
/// every token it does not allow. One instance per request.
/// </summary>
internal sealed class TokenSampler
{
    readonly SamplingParams p;
    readonly Random random;
    readonly OutputVocabulary? vocabulary;
    readonly OutputCursor? cursor;
    readonly int[] recent;       // ring of the last RepeatLastN tokens
    readonly KeyValuePair<int, float>[] biases;
    int recentCount, recentNext;
    float[] work = [];
    int[] ids = [];
    float[] probs = [];
    float[] keys = [];

    /// <param name="vocabulary">The model's token bytes; needed with an output format.</param>
    public TokenSampler(SamplingParams p, OutputVocabulary? vocabulary = null)
    {
        this.p = p;
        if (p.OutputFormat is { } format)
        {
            this.vocabulary = vocabulary ?? throw new ArgumentNullException(nameof(vocabulary), "an output format needs the vocabulary");
            cursor = format.Start();
        }
        random = new Random(p.Seed ?? Random.Shared.Next());
        recent = new int[p.RepeatLastN];
        biases = p.LogitBias?.Where(b => b.Value != 0).ToArray() ?? [];
    }

    /// <summary>Remembers a token for the penalties (prompt tokens and each output token).</summary>
    public void Accept(int token)
    {
        if (recent.Length == 0) return;
        recent[recentNext] = token;
        recentNext = (recentNext + 1) % recent.Length;
        if (recentCount < recent.Length) recentCount++;
    }

    /// <summary>The next token, or -1 when the output format allows none (the vocabulary cannot continue it).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        ReadOnlySpan<float> scores = logits;
        bool penalise = (p.RepeatPenalty != 1f || p.FrequencyPenalty != 0f || p.PresencePenalty != 0f) && recentCount > 0;
        if (penalise || cursor != null || biases.Length > 0)
        {
            if (work.Length != logits.Length) work = new float[logits.Length];
            logits.CopyTo(work);
            foreach (var (t, bias) in biases)
                if ((uint)t < (uint)work.Length) work[t] += bias;
            if (penalise) ApplyPenalties(work);
            if (cursor != null && !cursor.Mask(work, vocabulary!)) return -1;
            scores = work;
        }
        int token = p.IsGreedy ? ArgMax(scores) : Draw(scores);
        if (cursor != null && !vocabulary!.IsEndOfGeneration(token)) cursor.Advance(vocabulary.Piece(token));
        return token;
    }

    void ApplyPenalties(float[] scores)
    {
        // As llama.cpp's penalties sampler: each distinct recent token once, the repeat penalty scaling its logit, then
        // count × frequency + presence subtracted.
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < recentCount; i++)
        {
            int t = recent[i];
            if ((uint)t < (uint)scores.Length) counts[t] = counts.GetValueOrDefault(t) + 1;
        }
        foreach (var (t, count) in counts)
        {
            if (p.RepeatPenalty != 1f) scores[t] = scores[t] > 0 ? scores[t] / p.RepeatPenalty : scores[t] * p.RepeatPenalty;
            scores[t] -= count * p.FrequencyPenalty + p.PresencePenalty;
        }
    }

    internal static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        float max = scores[0];
        for (int i = 1; i < scores.Length; i++)
            if (scores[i] > max) { max = scores[i]; best = i; }
        return best;
    }

    int Draw(ReadOnlySpan<float> scores)
    {
        int n = scores.Length;
        if (this.ids.Length != n) { this.ids = new int[n]; probs = new float[n]; }

        // top-k: keep the k best ids, sorted by score, best first.
        int k = p.TopK > 0 && p.TopK < n ? p.TopK : n;
        int count = SelectTop(scores, k);
        var ids = this.ids.AsSpan(0, count);

        // Softmax at temperature 1 for top-p and min-p, as llama.cpp's chain applies them before temperature.
        float max = scores[ids[0]];
        double sum = 0;
        for (int i = 0; i < count; i++) sum += probs[i] = MathF.Exp(scores[ids[i]] - max);

        if (p.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += probs[i] / sum;
                if (cumulative >= p.TopP) { count = i + 1; break; }
            }
        }
        if (p.MinP > 0f)
        {
            // probs are sorted and _probs[0] (= 1) belongs to the best token, so min-p is a cut-off on the sorted list.
            int keep = 1;
            while (keep < count && probs[keep] >= p.MinP) keep++;
            count = keep;
        }

        double total = 0;
        for (int i = 0; i < count; i++) total += probs[i] = MathF.Exp((scores[this.ids[i]] - max) / p.Temperature);
        double r = random.NextDouble() * total;
        for (int i = 0; i < count; i++)
        {
            r -= probs[i];
            if (r < 0) return this.ids[i];
        }
        return this.ids[count - 1];
    }

    /// <summary>Fills _ids[0..k) with the ids of the k highest scores, best first.</summary>
    int SelectTop(ReadOnlySpan<float> scores, int k)
    {
        int n = scores.Length;
        if (keys.Length != n) keys = new float[n];
        if (k == n)
        {
            for (int i = 0; i < n; i++) ids[i] = i;
        }
        else
        {
            // Min-heap of the k best seen so far: O(n log k).
            var heap = new PriorityQueue<int, float>(k);
            for (int i = 0; i < n; i++)
            {
                if (heap.Count < k) heap.Enqueue(i, scores[i]);
                else if (heap.TryPeek(out _, out float worst) && scores[i] > worst) heap.EnqueueDequeue(i, scores[i]);
            }
            for (int i = 0; heap.Count > 0; i++) ids[i] = heap.Dequeue();
        }
        for (int i = 0; i < k; i++) keys[i] = -scores[ids[i]];
        Array.Sort(keys, ids, 0, k);
        return k;
    }
}
