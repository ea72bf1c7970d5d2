namespace RegionChat.Llm.Engine;

/// <summary>How to load a GGUF model and size the single llama.cpp context that serves every sequence.</summary>
public sealed record LlmEngineOptions
{
    /// <summary>Path of the llama GGUF file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>KV cache cells shared by all sequences (one cell per position of one sequence).</summary>
    public int ContextSize { get; init; } = 4096;

    /// <summary>Most positions (tokens or embedding rows) one decode call takes: the prefill chunk size.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Threads for single-token decode steps.</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Threads for batched (prefill) steps. Left unset llama.cpp used 1 here, which halves prefill speed.</summary>
    public int BatchThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// Layers offloaded to a GPU. Only the CPU backend ships on this machine's package feed, so anything but 0 is
    /// written for CUDA builds (LLamaSharp.Backend.Cuda12) and has not been tested here.
    /// </summary>
    public int GpuLayers { get; init; }

    /// <summary>Most sequences (sessions holding a KV history) the context keeps at once.</summary>
    public int MaxSequences { get; init; } = 8;

    /// <summary>Sequences kept for one-shot requests (<see cref="LlmSession.OneShot"/>): conversations hold at most
    /// MaxSequences minus this many, evicting their own least recently used beyond it, so a one-shot request always
    /// finds a sequence without evicting a conversation. 0: no reserve (one-shots still wait rather than evict one while
    /// anything runs).</summary>
    public int OneShotSequences { get; init; }

    /// <summary>In a step that injects embedding rows (an image), feed its tokens as their token_embd rows in the same
    /// decode call: the question after an image then needs no step of its own. Only where the rows are exact (llama
    /// architecture; token_embd F32, F16, BF16 or Q8_0); elsewhere <see cref="LlmEngine.TokenRowsRefusal"/> says why not.</summary>
    public bool TokensAsRows { get; init; } = true;

    /// <summary>Throws ArgumentException naming the first bad field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath)) throw new ArgumentException("a model path is required", nameof(ModelPath));
        if (!File.Exists(ModelPath)) throw new FileNotFoundException($"GGUF model not found: {ModelPath}", ModelPath);
        Check(ContextSize, 16, 1 << 20, nameof(ContextSize));
        Check(BatchSize, 1, 1 << 16, nameof(BatchSize));
        Check(Threads, 1, 1024, nameof(Threads));
        Check(BatchThreads, 1, 1024, nameof(BatchThreads));
        Check(GpuLayers, 0, 100_000, nameof(GpuLayers));
        // llama.cpp allows at most 256 sequences; every active sequence needs one slot in a decode batch, and llama.cpp
        // caps the batch at the context size (more sequences than context cells abort the process in llama.cpp).
        Check(MaxSequences, 1, Math.Min(256, Math.Min(BatchSize, ContextSize)), nameof(MaxSequences));
        Check(OneShotSequences, 0, MaxSequences - 1, nameof(OneShotSequences));
    }

    static void Check(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}], got {value}");
    }
}
