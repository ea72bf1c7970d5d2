using RegionChat.Llm.Vocabulary;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// Writes a llama GGUF with seeded random weights: for engine tests and benchmarks at any shape, up to TinyLlama-1.1B
/// (streamed in chunks of rows, so memory stays small). Weights are uniform with std 1/sqrt(fan_in) (attn_output and
/// ffn_down further scaled by 1/sqrt(2·layers) so the residual stream stays sane); norms are 1 ± 0.1. The same seed
/// gives the same file for any chunking.
/// </summary>
public static class LlamaGgufSynth
{
    public static void Write(string path, LlamaShape shape, LlamaVocabulary vocabulary, GgmlType weightType, ulong seed,
        LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        LlamaGgufWriter.Write(path, shape, vocabulary, spec => Rows(shape, spec, seed), weightType,
            options ?? new LlamaGgufOptions { Name = $"regionchat-synth-seed{seed}" });
    }

    /// <summary>The floats of one tensor exactly as <see cref="Write"/> generates them (before encoding).</summary>
    public static float[] Generate(LlamaShape shape, LlamaTensorSpec spec, ulong seed)
    {
        var data = new float[spec.ElementCount];
        long rows = spec.ElementCount / spec.Ne[0];
        Rows(shape, spec, seed)(0, checked((int)rows), data);
        return data;
    }

    static TensorRowsProducer Rows(LlamaShape shape, LlamaTensorSpec spec, ulong seed)
    {
        ulong tensorSeed = Mix(seed ^ Fnv1a(spec.Name));
        int rowLength = checked((int)spec.Ne[0]);
        float center, halfWidth;
        if (spec.IsNorm)
        {
            center = 1f;
            halfWidth = 0.1f;
        }
        else
        {
            double std = 1.0 / Math.Sqrt(spec.FanIn);
            if (spec.Name.EndsWith("attn_output.weight", StringComparison.Ordinal) || spec.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal))
                std /= Math.Sqrt(2.0 * shape.Layers);
            center = 0f;
            halfWidth = (float)(std * Math.Sqrt(3.0)); // uniform(-a, a) has std a/sqrt(3)
        }

        return (firstRow, rowCount, destination) =>
        {
            unsafe
            {
                // Spans cannot enter the parallel lambda; the pinned pointer can (rows are disjoint).
                fixed (float* basePtr = destination)
                {
                    float* p0 = basePtr;
                    Parallel.For(0, rowCount, r =>
                    {
                        ulong state = Mix(tensorSeed + (ulong)(firstRow + r) * 0x9E3779B97F4A7C15UL);
                        var row = new Span<float>(p0 + (long)r * rowLength, rowLength);
                        for (int i = 0; i < row.Length; i++)
                        {
                            state += 0x9E3779B97F4A7C15UL;
                            float u = (Mix(state) >> 40) * (1f / (1 << 24)); // [0, 1)
                            row[i] = center + (2f * u - 1f) * halfWidth;
                        }
                    });
                }
            }
        };
    }

    // SplitMix64 finaliser.
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static ulong Fnv1a(string s)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (char c in s) h = (h ^ c) * 0x100000001b3UL;
        return h;
    }
}
