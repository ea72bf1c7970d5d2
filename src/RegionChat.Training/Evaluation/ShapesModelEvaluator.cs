using System.Diagnostics;
using System.Text;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using RegionChat.Vision.Regions;

namespace RegionChat.Training.Evaluation;

/// <summary>
/// `regionchat eval shapes`: a model folder measured on shapes scenes through the inference path the server runs —
/// <see cref="RegionChatModel"/> loads the manifest, encodes image + region (its preprocessor, Alpha-CLIP tower and
/// projector) and answers through the GGUF in llama.cpp (<see cref="RegionChatModel.StartChat"/>, greedy). The
/// generations of <see cref="ShapesEvalAsk.For"/> run many at a time (the engine batches their decode steps), the
/// images of each chunk of scenes are encoded in batched vision forwards while the previous chunk is generating.
/// Zero-shot region classification follows on the same loaded towers.
/// </summary>
public static class ShapesModelEvaluator
{
    /// <summary>Text positions allowed per prompt besides the visual tokens (system line, template, question).</summary>
    const int TextPositions = 96;

    public static async Task<ShapesEvalResult> EvaluateAsync(string modelFolder, ShapesEvalOptions options,
        Action<ShapesEvalProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var total = Stopwatch.StartNew();
        var manifest = ModelManifest.Load(modelFolder);
        var scenes = ShapesGenerator.GenerateMany(options.FirstSeed, options.Scenes).ToList();
        var asks = ShapesEvalAsk.For(scenes);

        int perSequence = Math.Max(VisualTokensOf(manifest) + TextPositions + options.MaxTokens,
            ShapesChatEval.PositionsPerChat(VisualTokensOf(manifest), options.MaxTokens));
        using var model = RegionChatModel.Load(manifest, new RegionChatModelOptions
        {
            Threads = options.Threads,
            MaxSequences = options.Parallel,
            ContextSize = options.Parallel * perSequence,
            BatchSize = Math.Max(512, options.Parallel),
        });

        var answers = new string[asks.Count];
        var sampling = model.WithModelStops(SamplingParams.Greedy(options.MaxTokens));
        long promptTokens = 0, completionTokens = 0;
        int done = 0;
        double encodeSeconds = 0;
        var generateClock = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(options.Parallel);

        // Chunks of scenes big enough to keep every sequence busy; at most two chunks in flight (one encoding).
        int asksPerScene = Math.Max(1, asks.Count / scenes.Count);
        int chunkScenes = Math.Clamp(4 * options.Parallel / asksPerScene, 1, 256);
        Task previous = Task.CompletedTask;
        for (int first = 0; first < scenes.Count; first += chunkScenes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int end = Math.Min(scenes.Count, first + chunkScenes);
            var chunk = Enumerable.Range(0, asks.Count).Where(i => asks[i].SceneIndex >= first && asks[i].SceneIndex < end).ToList();
            var encodeClock = Stopwatch.StartNew();
            var tokens = Encode(model, scenes, chunk.Select(i => asks[i]).ToList(), options.VisionBatch);
            encodeSeconds += encodeClock.Elapsed.TotalSeconds;
            var tasks = chunk.Select(i => Task.Run(async () =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    var (text, usage) = await AnswerAsync(model, tokens[Key(asks[i])], asks[i].Question, sampling, cancellationToken).ConfigureAwait(false);
                    answers[i] = text;
                    Interlocked.Add(ref promptTokens, usage.PromptTokens);
                    Interlocked.Add(ref completionTokens, usage.CompletionTokens);
                }
                finally
                {
                    gate.Release();
                }
                progress?.Invoke(new ShapesEvalProgress("answers", Interlocked.Increment(ref done), asks.Count, total.Elapsed));
            }, cancellationToken)).ToArray();
            await previous.ConfigureAwait(false);
            previous = Task.WhenAll(tasks);
        }
        await previous.ConfigureAwait(false);
        double generateSeconds = generateClock.Elapsed.TotalSeconds - encodeSeconds;

        var chat = await ShapesChatEval.RunAsync(model, scenes, options, progress, cancellationToken).ConfigureAwait(false);

        var zeroShotClock = Stopwatch.StartNew();
        progress?.Invoke(new ShapesEvalProgress("zero-shot", 0, 1, total.Elapsed));
        var zeroShot = ZeroShotOnModel.Measure(model, scenes, options.VisionBatch);
        progress?.Invoke(new ShapesEvalProgress("zero-shot", 1, 1, total.Elapsed));
        double zeroShotSeconds = zeroShotClock.Elapsed.TotalSeconds;

        var scores = ShapesEvalScores.Score(scenes, asks, answers);
        var timings = new ShapesEvalTimings(total.Elapsed.TotalSeconds, encodeSeconds, generateSeconds, zeroShotSeconds, asks.Count,
            promptTokens, completionTokens);
        return new ShapesEvalResult(manifest.Directory, options.FirstSeed, scenes, scores, zeroShot, asks, answers, timings) { Chat = chat };
    }

    /// <summary>The region an ask shows the model (null: the whole image).</summary>
    public static Region? RegionOf(ShapesScene scene, ShapesEvalAsk ask) => ask.Mode switch
    {
        RegionAlphaMode.Whole => null,
        RegionAlphaMode.Box => ZeroShotOnModel.BoxOf(scene.Objects[ask.ObjectIndex!.Value]),
        _ => ZeroShotOnModel.MaskOf(scene.Objects[ask.ObjectIndex!.Value]),
    };

    static (int Scene, int? Object, RegionAlphaMode Mode) Key(ShapesEvalAsk ask) => (ask.SceneIndex, ask.ObjectIndex, ask.Mode);

    /// <summary>Visual tokens of every distinct (scene, region) the asks show, in batched vision forwards.</summary>
    static Dictionary<(int Scene, int? Object, RegionAlphaMode Mode), EmbeddingBlock> Encode(RegionChatModel model,
        IReadOnlyList<ShapesScene> scenes, IReadOnlyList<ShapesEvalAsk> asks, int batch)
    {
        var keys = asks.DistinctBy(Key).ToList();
        var blocks = new Dictionary<(int, int?, RegionAlphaMode), EmbeddingBlock>();
        foreach (var part in keys.Chunk(batch))
        {
            var inputs = part.Select(a =>
            {
                using var image = scenes[a.SceneIndex].ToImage();
                return model.Preprocess(image, RegionOf(scenes[a.SceneIndex], a));
            }).ToArray();
            var encoded = model.EncodePreprocessed(inputs);
            for (int i = 0; i < part.Length; i++) blocks[Key(part[i])] = encoded[i].Block;
        }
        return blocks;
    }

    /// <summary>One greedy answer on a fresh chat, as the server answers a caption request.</summary>
    internal static async Task<(string Text, GenerationUsage Usage)> AnswerAsync(RegionChatModel model, EmbeddingBlock image, string question,
        SamplingParams sampling, CancellationToken cancellationToken)
    {
        using var chat = model.StartChat();
        var text = new StringBuilder();
        GenerationFinished? finished = null;
        await foreach (var e in chat.GenerateAsync(ChatMessage.User(question, image), sampling, cancellationToken).ConfigureAwait(false))
        {
            if (e is TextPiece piece) text.Append(piece.Text);
            else if (e is GenerationFinished f) finished = f;
        }
        if (finished is null || finished.Reason == FinishReason.Cancelled)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException($"the generation for '{question}' ended without an answer");
        }
        return (text.ToString().Trim(), finished.Usage);
    }

    /// <summary>Visual tokens per image, from the vision config (576, LLaVA-1.5's count, when the manifest has none).</summary>
    static int VisualTokensOf(ModelManifest manifest)
    {
        if (manifest.Vision.Config is not { } config) return 576;
        var c = AlphaClipConfig.FromJsonFile(manifest.Resolve(config, "vision.config"));
        int grid = c.InputResolution / c.PatchSize;
        return grid * grid;
    }
}
