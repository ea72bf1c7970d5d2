using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// The benchmark's baseline: LLamaSharp calls with nothing around them (batches, Decode, argmax over the logits), on
/// its own context with the engine's settings.
/// </summary>
internal sealed class BareLlamaLoop : IDisposable
{
    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly int batchSize;

    public BareLlamaLoop(LlmEngineOptions o)
    {
        var p = new ModelParams(o.ModelPath)
        {
            ContextSize = (uint)o.ContextSize,
            BatchSize = (uint)o.BatchSize,
            UBatchSize = (uint)o.BatchSize,
            SeqMax = (uint)o.MaxSequences,
            Threads = o.Threads,
            BatchThreads = o.BatchThreads,
            GpuLayerCount = o.GpuLayers,
            KVUnified = true,
        };
        weights = LLamaWeights.LoadFromFile(p);
        context = new LLamaContext(weights, p);
        batchSize = (int)context.NativeHandle.BatchSize;   // llama.cpp caps n_batch at n_ctx
    }

    SafeLLamaContextHandle Ctx => context.NativeHandle;

    /// <summary>Prefills block i into sequence i, BatchSize rows per decode; returns the time taken.</summary>
    public TimeSpan Prefill(IReadOnlyList<EmbeddingBlock> blocks)
    {
        Ctx.MemoryClear(true);
        var batch = new LLamaBatchEmbeddings(blocks[0].Width);
        var lasts = new List<int>();
        var clock = Stopwatch.StartNew();
        for (int s = 0; s < blocks.Count; s++)
            for (int r = 0; r < blocks[s].Count; r++)
            {
                bool last = r == blocks[s].Count - 1;
                int at = batch.Add(blocks[s].Row(r), r, (LLamaSeqId)s, last);
                if (last) lasts.Add(at);
                if (batch.EmbeddingsCount == batchSize) Flush();
            }
        Flush();
        var elapsed = clock.Elapsed;
        Ctx.MemoryClear(true);
        return elapsed;

        void Flush()
        {
            if (batch.EmbeddingsCount == 0) return;
            Check(Ctx.Decode(batch));
            foreach (int i in lasts) TokenSampler.ArgMax(Ctx.GetLogitsIth(i));
            lasts.Clear();
            batch.Clear();
        }
    }

    /// <summary>Prefills each prompt into its own sequence, then greedily decodes tokens-1 steps of all sequences at
    /// once; returns the time of the decode steps.</summary>
    public TimeSpan Decode(IReadOnlyList<int[]> prompts, int tokens)
    {
        Ctx.MemoryClear(true);
        var batch = new LLamaBatch();
        var next = new int[prompts.Count];
        var index = new int[prompts.Count];
        var ending = new List<int>();                 // sequences whose prompt ends in the current batch
        for (int s = 0; s < prompts.Count; s++)
            for (int k = 0; k < prompts[s].Length; k++)
            {
                bool last = k == prompts[s].Length - 1;
                index[s] = batch.Add(prompts[s][k], k, (LLamaSeqId)s, last);
                if (last) ending.Add(s);
                if (batch.TokenCount == batchSize) Flush();
            }
        Flush();

        var clock = Stopwatch.StartNew();
        for (int step = 1; step < tokens; step++)
        {
            batch.Clear();
            for (int s = 0; s < prompts.Count; s++)
                index[s] = batch.Add(next[s], prompts[s].Length + step - 1, (LLamaSeqId)s, true);
            Check(Ctx.Decode(batch));
            for (int s = 0; s < prompts.Count; s++) next[s] = TokenSampler.ArgMax(Ctx.GetLogitsIth(index[s]));
        }
        var elapsed = clock.Elapsed;
        Ctx.MemoryClear(true);
        return elapsed;

        void Flush()
        {
            if (batch.TokenCount == 0) return;
            Check(Ctx.Decode(batch));
            foreach (int s in ending) next[s] = TokenSampler.ArgMax(Ctx.GetLogitsIth(index[s]));
            ending.Clear();
            batch.Clear();
        }
    }

    static void Check(DecodeResult r)
    {
        if (r != DecodeResult.Ok) throw new LlmDecodeException($"bare loop: llama_decode returned {r}");
    }

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
