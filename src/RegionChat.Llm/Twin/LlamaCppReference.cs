using LLama;
using LLama.Common;
using LLama.Native;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin;

/// <summary>
/// Runs a GGUF through llama.cpp (LLamaSharp) and returns the logits of every position: the reference the twin is
/// checked against. The KV cache is f32 and flash attention off, so the only differences left are float rounding.
/// </summary>
public static class LlamaCppReference
{
    /// <summary>
    /// Logits [T][V] for unbatched segments fed in order as token batches and embedding batches, positions numbered
    /// 0..T-1 across them.
    /// </summary>
    public static float[][] Logits(string ggufPath, IReadOnlyList<LlamaTwinSegment> segments, int threads = 2)
    {
        if (!File.Exists(ggufPath)) throw new FileNotFoundException($"GGUF file not found: {ggufPath}", ggufPath);
        if (segments.Count == 0) throw new ArgumentException("at least one input segment is needed");
        foreach (var s in segments)
            if (s.Data.dim() != (s.IsTokens ? 1 : 2) && !(s.Data.shape[0] == 1 && s.Data.dim() == (s.IsTokens ? 2 : 3)))
                throw new ArgumentException("llama.cpp reference segments must be unbatched");
        int total = checked((int)segments.Sum(s => s.Length));

        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)Math.Max(total, 16),
            BatchSize = (uint)Math.Max(total, 16),
            UBatchSize = (uint)Math.Max(total, 16),
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        LLamaWeights weights;
        LLamaContext context;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (LLama.Exceptions.RuntimeError e)
        {
            throw new InvalidOperationException($"llama.cpp could not load {ggufPath}: {e.Message}", e);
        }
        using var ownedWeights = weights;
        try
        {
            context = weights.CreateContext(parameters);
        }
        catch (LLama.Exceptions.RuntimeError e)
        {
            throw new InvalidOperationException($"llama.cpp could not create a context for {ggufPath}: {e.Message}", e);
        }
        using var ownedContext = context;
        int vocab = weights.Vocab.Count;
        var logits = new List<float[]>(total);
        int pos = 0;
        foreach (var s in segments)
        {
            if (s.IsTokens)
            {
                long[] ids = s.Data.reshape(-1).to(ScalarType.Int64).data<long>().ToArray();
                var batch = new LLamaBatch();
                foreach (long id in ids) batch.Add((LLamaToken)checked((int)id), pos++, LLamaSeqId.Zero, true);
                Decode(context, context.Decode(batch));
                Collect(context, ids.Length, vocab, logits);
            }
            else
            {
                int width = checked((int)s.Data.shape[^1]);
                if (width != weights.EmbeddingSize)
                    throw new ArgumentException($"embedding segment width {width} is not the model width {weights.EmbeddingSize}");
                float[] values = s.Data.reshape(-1).to(ScalarType.Float32).data<float>().ToArray();
                int rows = values.Length / width;
                var batch = new LLamaBatchEmbeddings(width);
                for (int r = 0; r < rows; r++) batch.Add(values.AsSpan(r * width, width), pos++, LLamaSeqId.Zero, true);
                Decode(context, context.Decode(batch));
                Collect(context, rows, vocab, logits);
            }
        }
        return logits.ToArray();
    }

    static void Decode(LLamaContext context, DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    static void Collect(LLamaContext context, int count, int vocab, List<float[]> into)
    {
        for (int i = 0; i < count; i++)
        {
            var row = context.NativeHandle.GetLogitsIth(i);
            if (row.Length < vocab) throw new InvalidOperationException($"llama.cpp returned {row.Length} logits, expected {vocab}");
            into.Add(row[..vocab].ToArray());
        }
    }
}
