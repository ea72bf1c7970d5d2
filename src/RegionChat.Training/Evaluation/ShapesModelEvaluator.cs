using System.Diagnostics;
using System.Text;
using RegionChat.Inference;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Vision;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;

namespace RegionChat.Training.Evaluation;

/// <summary>
/// `regionchat eval shapes`: a model folder measured on shapes scenes through the turn the server runs —
/// <see cref="RegionChatCore"/> loads the manifest, encodes image + region (its preprocessor, Alpha-CLIP tower and
/// projector, batched) and answers through the GGUF in llama.cpp, greedy with the core's default sampling. The asks of
/// <see cref="ShapesEvalAsk.For"/> run many at a time (the engine batches their decode steps); the asks about one
/// (scene, region) share its visual tokens through the core's cache. Zero-shot region classification follows on the
/// same loaded towers.
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
        using var core = RegionChatCore.ForModelFolder(manifest.Directory, new RegionChatCoreOptions
        {
            Threads = options.Threads,
            ParallelSequences = options.Parallel,
            ContextSize = options.Parallel * perSequence,
            BatchSize = Math.Max(512, options.Parallel),
            MaxTokensLimit = Math.Max(4096, options.MaxTokens),
            Models = new Dictionary<string, PerModelOptions> { [manifest.Id] = new() { VisualTokenBudget = options.VisualTokenBudget } },
        });
        var model = core.Model()!;

        var answers = new string[asks.Count];
        long promptTokens = 0, completionTokens = 0, encodeTicks = 0, visualTokens = 0;
        int done = 0;
        var generateClock = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(options.Parallel);

        async Task AskAsync(int i, string imageId, TaskCompletionSource? tokensReady)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var ask = asks[i];
                var (text, usage, timings) = await AnswerAsync(core, ImageInput.FromStoredId(imageId), RegionOf(scenes[ask.SceneIndex], ask),
                    $"{ask.ObjectIndex}:{ask.Mode}", ask.Question, options.MaxTokens, tokensReady, cancellationToken).ConfigureAwait(false);
                answers[i] = text;
                Interlocked.Add(ref promptTokens, usage.PromptTokens);
                Interlocked.Add(ref completionTokens, usage.CompletionTokens);
                Interlocked.Add(ref visualTokens, usage.VisualTokens);
                if (!timings.VisualCacheHit) Interlocked.Add(ref encodeTicks, TimeSpan.FromMilliseconds(timings.ImageDecodeMs + timings.VisionEncodeMs).Ticks);
            }
            finally
            {
                tokensReady?.TrySetResult();
                gate.Release();
            }
            progress?.Invoke(new ShapesEvalProgress("answers", Interlocked.Increment(ref done), asks.Count, total.Elapsed));
        }

        // Chunks of scenes big enough to keep every sequence busy; at most two chunks in flight. In each (scene,
        // region) the first ask encodes the visual tokens and the others wait for them, then hit the cache.
        int asksPerScene = Math.Max(1, asks.Count / scenes.Count);
        int chunkScenes = Math.Clamp(4 * options.Parallel / asksPerScene, 1, 256);
        Task previous = Task.CompletedTask;
        for (int first = 0; first < scenes.Count; first += chunkScenes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int end = Math.Min(scenes.Count, first + chunkScenes);
            var imageIds = new Dictionary<int, string>();
            for (int i = first; i < end; i++) imageIds[i] = (await core.PutImageAsync(ScenePng(scenes[i]), ct: cancellationToken).ConfigureAwait(false)).Id;
            var tasks = new List<Task>();
            foreach (var group in Enumerable.Range(0,
                asks.Count).Where(i => asks[i].SceneIndex >= first && asks[i].SceneIndex < end).GroupBy(i => Key(asks[i])))
            {
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                string imageId = imageIds[group.Key.Scene];
                tasks.Add(Task.Run(() => AskAsync(group.First(), imageId, ready), cancellationToken));
                foreach (int i in group.Skip(1))
                    tasks.Add(Task.Run(async () =>
                    {
                        await ready.Task.ConfigureAwait(false);
                        await AskAsync(i, imageId, null).ConfigureAwait(false);
                    }, cancellationToken));
            }
            await previous.ConfigureAwait(false);
            previous = Task.WhenAll(tasks);
        }
        await previous.ConfigureAwait(false);
        double encodeSeconds = TimeSpan.FromTicks(encodeTicks).TotalSeconds;
        double generateSeconds = generateClock.Elapsed.TotalSeconds;

        var chat = await ShapesChatEval.RunAsync(core, scenes, options, progress, cancellationToken).ConfigureAwait(false);

        var zeroShotClock = Stopwatch.StartNew();
        progress?.Invoke(new ShapesEvalProgress("zero-shot", 0, 1, total.Elapsed));
        var zeroShot = ZeroShotOnModel.Measure(model, scenes, options.VisionBatch);
        progress?.Invoke(new ShapesEvalProgress("zero-shot", 1, 1, total.Elapsed));
        double zeroShotSeconds = zeroShotClock.Elapsed.TotalSeconds;

        var scores = ShapesEvalScores.Score(scenes, asks, answers);
        var timings = new ShapesEvalTimings(total.Elapsed.TotalSeconds, encodeSeconds, generateSeconds, zeroShotSeconds, asks.Count,
            promptTokens, completionTokens);
        return new ShapesEvalResult(manifest.Directory, options.FirstSeed, scenes, scores, zeroShot, asks, answers, timings)
        {
            Chat = chat, VisualTokenBudget = options.VisualTokenBudget, VisualTokensPerImage = asks.Count == 0 ? 0 : (double)visualTokens / asks.Count,
        };
    }

    /// <summary>The region an ask shows the model (null: the whole image).</summary>
    public static Region? RegionOf(ShapesScene scene, ShapesEvalAsk ask) => ask.Mode switch
    {
        RegionAlphaMode.Whole => null,
        RegionAlphaMode.Box => ZeroShotOnModel.BoxOf(scene.Objects[ask.ObjectIndex!.Value]),
        _ => ZeroShotOnModel.MaskOf(scene.Objects[ask.ObjectIndex!.Value]),
    };

    static (int Scene, int? Object, RegionAlphaMode Mode) Key(ShapesEvalAsk ask) => (ask.SceneIndex, ask.ObjectIndex, ask.Mode);

    /// <summary>A scene as PNG bytes, as a client would send it.</summary>
    internal static byte[] ScenePng(ShapesScene scene)
    {
        using var image = scene.ToImage();
        using var png = new MemoryStream();
        image.Save(png, new PngEncoder());
        return png.ToArray();
    }

    /// <summary>One greedy answer on a fresh session, as the server answers a caption request (the core's turn);
    /// <paramref name="tokensReady"/> is set once the image's visual tokens are in the core's cache.</summary>
    internal static async Task<(string Text, TurnUsage Usage, TurnTimings Timings)> AnswerAsync(RegionChatCore core, ImageInput image,
        Region? region, string regionKey, string question, int maxTokens, TaskCompletionSource? tokensReady, CancellationToken cancellationToken)
    {
        var turn = new TurnRequest
        {
            Messages = [TurnMessage.User(question, new TurnImage(image, region == null ? RegionSource.WholeImage : RegionSource.Of(region, regionKey)))],
            Sampling = new SamplingOptions { MaxTokens = maxTokens },
        };
        var text = new StringBuilder();
        TurnFinished? finished = null;
        await foreach (var e in core.RunTurnAsync(turn, cancellationToken).ConfigureAwait(false))
        {
            if (e is TurnStarted) tokensReady?.TrySetResult();
            else if (e is TurnText piece) text.Append(piece.Text);
            else if (e is TurnFinished f) finished = f;
        }
        if (finished is null || finished.Reason == TurnFinishReason.Cancelled)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException($"the generation for '{question}' ended without an answer");
        }
        return (text.ToString().Trim(), finished.Usage, finished.Timings);
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
