namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Picks the next token from a logits row, in llama.cpp's default order: repeat penalty, top-k, top-p, min-p,
/// temperature, seeded draw. Temperature 0 is the exact argmax (lowest id on ties). One instance per request.
/// </summary>
internal sealed class TokenSampler
{
    readonly SamplingParams _p;
    readonly Random _random;
    readonly int[] _recent;       // ring of the last RepeatLastN tokens
    int _recentCount, _recentNext;
    float[] _work = [];
    int[] _ids = [];
    float[] _probs = [];
    float[] _keys = [];

    public TokenSampler(SamplingParams p)
    {
        _p = p;
        _random = new Random(p.Seed ?? Random.Shared.Next());
        _recent = new int[p.RepeatLastN];
    }

    /// <summary>Remembers a token for the repeat penalty (prompt tokens and each output token).</summary>
    public void Accept(int token)
    {
        if (_recent.Length == 0) return;
        _recent[_recentNext] = token;
        _recentNext = (_recentNext + 1) % _recent.Length;
        if (_recentCount < _recent.Length) _recentCount++;
    }

    public int Sample(ReadOnlySpan<float> logits)
    {
        ReadOnlySpan<float> scores = logits;
        if (_p.RepeatPenalty != 1f && _recentCount > 0)
        {
            if (_work.Length != logits.Length) _work = new float[logits.Length];
            logits.CopyTo(_work);
            ApplyRepeatPenalty(_work);
            scores = _work;
        }
        return _p.IsGreedy ? ArgMax(scores) : Draw(scores);
    }

    void ApplyRepeatPenalty(float[] scores)
    {
        // Each distinct recent token is penalised once, as llama.cpp does.
        var seen = new HashSet<int>();
        for (int i = 0; i < _recentCount; i++)
        {
            int t = _recent[i];
            if ((uint)t >= (uint)scores.Length || !seen.Add(t)) continue;
            scores[t] = scores[t] > 0 ? scores[t] / _p.RepeatPenalty : scores[t] * _p.RepeatPenalty;
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
        if (_ids.Length != n) { _ids = new int[n]; _probs = new float[n]; }

        // top-k: keep the k best ids, sorted by score, best first.
        int k = _p.TopK > 0 && _p.TopK < n ? _p.TopK : n;
        int count = SelectTop(scores, k);
        var ids = _ids.AsSpan(0, count);

        // Softmax at temperature 1 for top-p and min-p, as llama.cpp's chain applies them before temperature.
        float max = scores[ids[0]];
        double sum = 0;
        for (int i = 0; i < count; i++) sum += _probs[i] = MathF.Exp(scores[ids[i]] - max);

        if (_p.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += _probs[i] / sum;
                if (cumulative >= _p.TopP) { count = i + 1; break; }
            }
        }
        if (_p.MinP > 0f)
        {
            // probs are sorted and _probs[0] (= 1) belongs to the best token, so min-p is a cut-off on the sorted list.
            int keep = 1;
            while (keep < count && _probs[keep] >= _p.MinP) keep++;
            count = keep;
        }

        double total = 0;
        for (int i = 0; i < count; i++) total += _probs[i] = MathF.Exp((scores[_ids[i]] - max) / _p.Temperature);
        double r = _random.NextDouble() * total;
        for (int i = 0; i < count; i++)
        {
            r -= _probs[i];
            if (r < 0) return _ids[i];
        }
        return _ids[count - 1];
    }

    /// <summary>Fills _ids[0..k) with the ids of the k highest scores, best first.</summary>
    int SelectTop(ReadOnlySpan<float> scores, int k)
    {
        int n = scores.Length;
        if (_keys.Length != n) _keys = new float[n];
        if (k == n)
        {
            for (int i = 0; i < n; i++) _ids[i] = i;
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
            for (int i = 0; heap.Count > 0; i++) _ids[i] = heap.Dequeue();
        }
        for (int i = 0; i < k; i++) _keys[i] = -scores[_ids[i]];
        Array.Sort(_keys, _ids, 0, k);
        return k;
    }
}
