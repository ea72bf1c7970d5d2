using System.Text;
using RegionChat.Data.Shapes;
using RegionChat.Llm.Engine;
using static TorchSharp.torch;

namespace RegionChat.Training.Llava;

/// <summary>
/// Greedy answers through llama.cpp (the inference engine) for a model's GGUF: the visual tokens come from the
/// TorchSharp vision tower and projector, the prompt from the engine's own llava_v1 template with the shapes system
/// prompt — the path the server takes. Used to check that llama.cpp answers what the twin answers.
/// </summary>
public sealed class LlamaCppAnswerer : IDisposable
{
    readonly LlmEngine engine;
    readonly ChatTemplate template;
    readonly int parallel;

    /// <param name="ggufPath">The model's llm.gguf.</param>
    /// <param name="threads">llama.cpp threads (decode and batch).</param>
    /// <param name="parallel">Sequences generated at once (each needs ~128 KV cells).</param>
    public LlamaCppAnswerer(string ggufPath, int threads = 1, int parallel = 8, string systemPrompt = ShapesText.SystemLine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallel, 1);
        this.parallel = parallel;
        SystemPrompt = systemPrompt;
        engine = LlmEngine.Load(new LlmEngineOptions
        {
            ModelPath = ggufPath,
            ContextSize = Math.Max(256, parallel * 160),
            BatchSize = 256,
            MaxSequences = parallel,
            Threads = threads,
            BatchThreads = threads,
        });
        template = ChatTemplate.Create(ChatTemplate.LlavaV1, engine.Facts);
    }

    public string SystemPrompt { get; }

    public LlmEngine Engine => engine;

    /// <summary>The engine's prompt for one image's visual tokens and a question.</summary>
    public IReadOnlyList<PromptSegment> Render(float[] visualTokens, string question) =>
        template.Render(SystemPrompt, [ChatMessage.User(question, new EmbeddingBlock(visualTokens, engine.Facts.EmbeddingWidth))]);

    /// <summary>Greedy answers (trimmed) of the samples, their visual tokens computed by <paramref name="model"/>.</summary>
    public IReadOnlyList<string> Answer(ShapesLlavaModel model, IReadOnlyList<LlavaSample> samples, int maxTokens = 32)
    {
        engine.ValidateVisualWidth(model.Llm.Shape.EmbeddingLength);
        var answers = new string[samples.Count];
        foreach (var chunk in Enumerable.Range(0, samples.Count).Chunk(64))
        {
            var rows = VisualTokenRows(model, chunk.Select(i => samples[i]).ToList());
            var tasks = new List<Task>();
            using var gate = new SemaphoreSlim(parallel);
            for (int j = 0; j < chunk.Length; j++)
            {
                int index = chunk[j];
                var prompt = Render(rows[j], samples[index].Question);
                tasks.Add(Task.Run(async () =>
                {
                    await gate.WaitAsync().ConfigureAwait(false);
                    try { answers[index] = (await GenerateAsync(prompt, maxTokens).ConfigureAwait(false)).Trim(); }
                    finally { gate.Release(); }
                }));
            }
            Task.WaitAll(tasks);
        }
        return answers;
    }

    /// <summary>The generated text of one prompt (greedy).</summary>
    public async Task<string> GenerateAsync(IReadOnlyList<PromptSegment> prompt, int maxTokens = 32)
    {
        using var session = engine.CreateSession(keepHistory: false);
        var text = new StringBuilder();
        await foreach (var e in engine.GenerateAsync(session, prompt, SamplingParams.Greedy(maxTokens)).ConfigureAwait(false))
            if (e is TextPiece piece) text.Append(piece.Text);
        return text.ToString();
    }

    static float[][] VisualTokenRows(ShapesLlavaModel model, IReadOnlyList<LlavaSample> samples)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var tokens = model.VisualTokens(samples).contiguous();
        long perImage = tokens.shape[1] * tokens.shape[2];
        var all = tokens.data<float>().ToArray();
        return Enumerable.Range(0, samples.Count).Select(i => all.AsSpan((int)(i * perImage), (int)perImage).ToArray()).ToArray();
    }

    public void Dispose() => engine.Dispose();
}
