using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>Tiny random llama GGUFs written by the synth, shared by the engine tests of one class.</summary>
public sealed class TinyModels : IDisposable
{
    readonly TempDir dir = new();
    readonly Dictionary<string, string> paths = [];

    public const int Width = 64;
    public static LlamaVocabulary Vocab { get; } = LlamaVocabulary.BuiltInEnglish();

    public static LlamaShape Shape(int width = Width) =>
        new(EmbeddingLength: width, Layers: 2, Heads: 4, KvHeads: 2, FeedForward: 128, VocabSize: Vocab.Count, ContextLength: 512);

    /// <summary>Path of an F32 model with the given seed (and chat template), written on first use.</summary>
    public string Model(ulong seed = 11, string? chatTemplate = null, int width = Width)
    {
        string key = $"{seed}-{chatTemplate?.GetHashCode()}-{width}";
        lock (paths)
        {
            if (paths.TryGetValue(key, out var p)) return p;
            p = dir.File($"tiny-{paths.Count}.gguf");
            LlamaGgufSynth.Write(p, Shape(width), Vocab, GgmlType.F32, seed,
                new LlamaGgufOptions { Name = "tiny", ChatTemplate = chatTemplate });
            paths[key] = p;
            return p;
        }
    }

    public LlmEngine Load(int contextSize = 1024, int batchSize = 64, int maxSequences = 8, ulong seed = 11,
        string? chatTemplate = null, int width = Width, int oneShotSequences = 0) =>
        LlmEngine.Load(new LlmEngineOptions
        {
            ModelPath = Model(seed, chatTemplate, width),
            ContextSize = contextSize,
            BatchSize = batchSize,
            MaxSequences = Math.Min(maxSequences, batchSize),
            OneShotSequences = oneShotSequences,
            // One thread: ggml's spinning thread barrier crawls when other processes hold the cores.
            Threads = 1,
            BatchThreads = 1,
        });

    public void Dispose() => dir.Dispose();
}

/// <summary>Collected output of one generation stream.</summary>
public sealed record Collected(string Text, IReadOnlyList<string> Pieces, GenerationFinished Final, PromptAdmitted? Admitted)
{
    /// <summary>The pieces' token log-probabilities, in order (empty unless the sampling asked for them).</summary>
    public IReadOnlyList<TokenLogprob> Logprobs { get; init; } = [];

    public static async Task<Collected> From(IAsyncEnumerable<GenerationEvent> stream)
    {
        var pieces = new List<string>();
        var logprobs = new List<TokenLogprob>();
        GenerationFinished? final = null;
        PromptAdmitted? admitted = null;
        await foreach (var e in stream)
        {
            Assert.Null(final);                                  // nothing after the final event
            if (e is PromptAdmitted a)
            {
                Assert.Null(admitted);                           // at most once, before any text
                Assert.Empty(pieces);
                admitted = a;
            }
            else if (e is TextPiece p)
            {
                pieces.Add(p.Text);
                logprobs.AddRange(p.Logprobs);
            }
            else final = (GenerationFinished)e;
        }
        Assert.NotNull(final);
        if (admitted != null)
        {
            Assert.Equal(final!.Usage.CachedTokens, admitted.CachedTokens);
            Assert.Equal(final.Usage.PromptTokens, admitted.PromptTokens);
        }
        return new Collected(string.Concat(pieces), pieces, final!, admitted) { Logprobs = logprobs };
    }
}

public static class Blocks
{
    /// <summary>A block of seeded random rows (a stand-in for an image's visual tokens), scaled like token embeddings.</summary>
    public static EmbeddingBlock Random(int rows, int seed, int width = TinyModels.Width)
    {
        var rng = new Random(seed);
        var data = new float[rows * width];
        float a = (float)(Math.Sqrt(3.0) / Math.Sqrt(width));
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * a;
        return new EmbeddingBlock(data, width);
    }
}
