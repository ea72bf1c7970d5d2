using LLama;
using LLama.Common;
using LLama.Native;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin;

/// <summary>
/// A GGUF loaded in llama.cpp (LLamaSharp) that returns the logits of every position: the reference the twin is
/// checked against. Each call runs in a fresh context with an f32 KV cache and flash attention off, so the only
/// differences left are float rounding.
/// </summary>
public sealed class LlamaCppReference : IDisposable
{
    readonly string path;
    readonly int threads;
    readonly LLamaWeights weights;

    public LlamaCppReference(string ggufPath, int threads = 2)
    {
        if (!File.Exists(ggufPath)) throw new FileNotFoundException($"GGUF file not found: {ggufPath}", ggufPath);
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be positive");
        path = ggufPath;
        this.threads = threads;
        try
        {
            weights = LLamaWeights.LoadFromFile(Parameters(16));
        }
        catch (LLama.Exceptions.RuntimeError e)
        {
            throw new InvalidOperationException($"llama.cpp could not load {ggufPath}: {e.Message}", e);
        }
    }

    public int VocabSize => weights.Vocab.Count;
    public int EmbeddingSize => weights.EmbeddingSize;

    public void Dispose() => weights.Dispose();

    /// <summary>Loads the file, runs one input, unloads.</summary>
    public static float[][] Logits(string ggufPath, IReadOnlyList<LlamaTwinSegment> segments, int threads = 2)
    {
        using var reference = new LlamaCppReference(ggufPath, threads);
        return reference.Logits(segments);
    }

    /// <summary>
    /// Logits [T][V] for unbatched segments fed in order as token batches and embedding batches, positions numbered
    /// 0..T-1 across them.
    /// </summary>
    public float[][] Logits(IReadOnlyList<LlamaTwinSegment> segments)
    {
        if (segments.Count == 0) throw new ArgumentException("at least one input segment is needed");
        foreach (var s in segments)
            if (s.Data.dim() != (s.IsTokens ? 1 : 2) && !(s.Data.shape[0] == 1 && s.Data.dim() == (s.IsTokens ? 2 : 3)))
                throw new ArgumentException("llama.cpp reference segments must be unbatched");
        int total = checked((int)segments.Sum(s => s.Length));

        LLamaContext context;
        try
        {
            context = weights.CreateContext(Parameters(total));
        }
        catch (LLama.Exceptions.RuntimeError e)
        {
            throw new InvalidOperationException($"llama.cpp could not create a context of {total} positions for {path}: {e.Message}", e);
        }
        using var owned = context;
        var logits = new List<float[]>(total);
        int pos = 0;
        foreach (var s in segments)
        {
            if (s.IsTokens)
            {
                long[] ids = s.Data.reshape(-1).to(ScalarType.Int64).data<long>().ToArray();
                if (ids.Any(id => id < 0 || id >= VocabSize))
                    throw new ArgumentException($"a token id is outside the vocabulary (0..{VocabSize - 1})");
                var batch = new LLamaBatch();
                foreach (long id in ids) batch.Add((LLamaToken)(int)id, pos++, LLamaSeqId.Zero, true);
                Check(context.Decode(batch));
                Collect(context, ids.Length, logits);
            }
            else
            {
                int width = checked((int)s.Data.shape[^1]);
                if (width != EmbeddingSize)
                    throw new ArgumentException($"embedding segment width {width} is not the model width {EmbeddingSize}");
                float[] values = s.Data.reshape(-1).to(ScalarType.Float32).data<float>().ToArray();
                int rows = values.Length / width;
                var batch = new LLamaBatchEmbeddings(width);
                for (int r = 0; r < rows; r++) batch.Add(values.AsSpan(r * width, width), pos++, LLamaSeqId.Zero, true);
                Check(context.Decode(batch));
                Collect(context, rows, logits);
            }
        }
        return logits.ToArray();
    }

    ModelParams Parameters(int positions)
    {
        uint size = (uint)Math.Max(positions, 16);
        return new ModelParams(path)
        {
            ContextSize = size,
            BatchSize = size,
            UBatchSize = size,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
    }

    static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    void Collect(LLamaContext context, int count, List<float[]> into)
    {
        for (int i = 0; i < count; i++)
        {
            var row = context.NativeHandle.GetLogitsIth(i);
            if (row.Length < VocabSize) throw new InvalidOperationException($"llama.cpp returned {row.Length} logits, expected {VocabSize}");
            into.Add(row[..VocabSize].ToArray());
        }
    }
}
