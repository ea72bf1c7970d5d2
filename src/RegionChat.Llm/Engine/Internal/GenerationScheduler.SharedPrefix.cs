using LLama.Native;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// The shared prompt prefix: every new conversation of a model opens with the same text before its first image (BOS,
/// the system prompt, "USER: "), so its KV cells are computed once. The first fresh prompt whose text run is followed by
/// an image writes it: once its prefix is decoded, the cells are copied into a holder sequence. Later fresh prompts that
/// open with the same tokens take them with llama_memory_seq_cp, which in the unified cache only adds their sequence to
/// the holder's cells: nothing is decoded and no cell is used twice (llama.cpp server's prompt cache and vLLM's prefix
/// caching do the same for longer prefixes). The holder changes prefix only while no session shares it.
/// All members run on the loop thread under Gate.
/// </summary>
internal sealed partial class GenerationScheduler
{
    // Shorter prefixes are not worth a sequence copy.
    const int MinSharedPrefix = 4;

    readonly int prefixSeq;          // the holder's sequence id; -1 when there is none (MaxSequences at llama.cpp's limit)
    int[]? prefixTokens;             // what the holder holds, null while empty
    int prefixCells;                 // its cells (0 while empty), kept out of usedCells
    int prefixUsers;                 // sessions whose first positions are the holder's cells
    GenerationRequest? prefixWriter; // the request whose prefix is being decoded for the holder
    long prefixHits;

    /// <summary>How many leading positions of a fresh request's prompt the holder can give it (0: none).</summary>
    int SharablePrefix(GenerationRequest r)
    {
        if (prefixTokens is not { } held || prefixWriter != null || r.Items.Count == 0 || r.Items[0] is not TokenRun run) return 0;
        // At least one position must be left to decode: the prompt's last logits come from it.
        if (run.Count < held.Length || (run.Count == held.Length && r.Items.Count == 1)) return 0;
        return run.Tokens.AsSpan(0, held.Length).SequenceEqual(held) ? held.Length : 0;
    }

    /// <summary>Gives a fresh sequence the holder's cells and drops those positions from the request's prompt.</summary>
    void TakeSharedPrefix(GenerationRequest r, int positions)
    {
        var core = r.Core;
        ctx.MemorySequenceCopy((LLamaSeqId)prefixSeq, (LLamaSeqId)core.SeqId, 0, positions);
        core.KvLength = positions;
        core.SharedPositions = positions;
        prefixUsers++;
        prefixHits++;
        var run = (TokenRun)r.Items[0];
        if (run.Count == positions) r.Items.RemoveAt(0);
        else r.Items[0] = new TokenRun(run.Tokens[positions..]);
    }

    /// <summary>Makes a fresh request whose prompt opens with text before an image the holder's writer, when the holder
    /// is free to take its prefix.</summary>
    void MaybeWritePrefix(GenerationRequest r)
    {
        if (prefixSeq < 0 || prefixWriter != null || r.Items.Count < 2 || r.Items[0] is not TokenRun run || run.Count < MinSharedPrefix) return;
        if (prefixTokens != null)
        {
            if (prefixUsers > 0) return;
            DropSharedPrefix();
        }
        prefixWriter = r;
        r.PrefixToWrite = run.Tokens.ToArray();
    }

    /// <summary>After a decode: the writer's prefix is in its cells; copy them to the holder and count them there.</summary>
    void CompletePrefixWrite(GenerationRequest r)
    {
        var tokens = r.PrefixToWrite!;
        ctx.MemorySequenceCopy((LLamaSeqId)r.Core.SeqId, (LLamaSeqId)prefixSeq, 0, tokens.Length);
        prefixTokens = tokens;
        prefixCells = tokens.Length;
        usedCells -= tokens.Length;
        r.Core.SharedPositions = tokens.Length;
        prefixUsers++;
        prefixWriter = null;
        r.PrefixToWrite = null;
    }

    /// <summary>Empties the holder (only while nobody shares it).</summary>
    void DropSharedPrefix()
    {
        ctx.MemorySequenceRemove((LLamaSeqId)prefixSeq, -1, -1);
        prefixTokens = null;
        prefixCells = 0;
    }
}
