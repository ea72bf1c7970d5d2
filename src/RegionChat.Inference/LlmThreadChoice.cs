namespace RegionChat.Inference;

/// <summary>
/// llama.cpp's thread count when none is set (RegionChat:LlmThreads = 0). A decode step of a very small model is a few
/// microseconds of work per op, less than synchronising threads at each op's barrier costs: on shapes-tiny (2 MB GGUF)
/// one thread decodes 6.8k tokens/s where two manage 1.5–2.1k, and prefills as fast (`bench llm --gguf
/// models/shapes-tiny/llm.gguf --prompt-embeddings 65 --sequences 8 --tokens 8 --threads 1|2`). Larger models are
/// bound by memory bandwidth and gain from every core, so they get <c>RegionChat:Threads</c> as before.
/// </summary>
public static class LlmThreadChoice
{
    /// <summary>GGUF files below this size get one thread.</summary>
    public const long OneThreadBelowBytes = 64L << 20;

    /// <summary>The threads llama.cpp runs with: <paramref name="configured"/> when above 0, else one for a GGUF under
    /// <see cref="OneThreadBelowBytes"/>, else <paramref name="threads"/>.</summary>
    public static int Resolve(int configured, string ggufPath, int threads)
    {
        if (configured > 0) return configured;
        return new FileInfo(ggufPath).Length < OneThreadBelowBytes ? 1 : Math.Max(1, threads);
    }
}
