using System.Buffers.Binary;
using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;
using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>With <see cref="LlmEngineOptions.TokensAsRows"/> a step that injects rows feeds its tokens as their
/// token_embd rows in the same decode call: answers must stay those of the token batch, and the question after an
/// image must not wait for a step of its own.</summary>
public sealed class TokensAsRowsTests : IDisposable
{
    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    string Model(GgmlType type)
    {
        string path = dir.File($"tiny-{type}.gguf");
        if (!File.Exists(path))
            LlamaGgufSynth.Write(path, TinyModels.Shape(), TinyModels.Vocab, type, seed: 23, new LlamaGgufOptions { Name = "tiny" });
        return path;
    }

    static LlmEngine Load(string path, bool tokensAsRows, int batchSize = 64) => LlmEngine.Load(new LlmEngineOptions
    {
        ModelPath = path,
        ContextSize = 1024,
        BatchSize = batchSize,
        MaxSequences = 4,
        Threads = 1,
        BatchThreads = 1,
        TokensAsRows = tokensAsRows,
    });

    static PromptSegment[] ImagePrompt(LlmEngine engine, int seed, int width = TinyModels.Width) =>
    [
        PromptSegment.Tokens([engine.Facts.BosToken!.Value, .. engine.Tokenize("the cat")]),
        PromptSegment.Embeddings(Rows(9, seed, width)),
        PromptSegment.Text(" sits on the red chair near"),
    ];

    static EmbeddingBlock Rows(int count, int seed, int width)
    {
        var rng = new Random(seed);
        var data = new float[count * width];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() - 0.5) * 0.4f;
        return new EmbeddingBlock(data, width);
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public async Task AnswersAreThoseOfSeparateTokenBatches(GgmlType type)
    {
        // A k-quant row is whole blocks of 256, so those tables get a model of their own, 256 wide.
        bool kQuant = !GgmlTypeInfo.IsFloatCodec(type);
        int width = kQuant ? 256 : TinyModels.Width;
        using var on = Load(kQuant ? KQuantModel(type) : Model(type), tokensAsRows: true);
        using var off = Load(kQuant ? KQuantModel(type) : Model(type), tokensAsRows: false);
        Assert.True(on.TokensAsRows, on.TokenRowsRefusal);
        Assert.False(off.TokensAsRows);

        var prompt = ImagePrompt(on, seed: 1, width);
        var byRows = await on.ComputeLogitsAsync(prompt);
        var byTokens = await off.ComputeLogitsAsync(prompt);
        double diff = byRows.Zip(byTokens, (x, y) => Math.Abs((double)x - y)).Max();
        Assert.True(diff <= 1e-4, $"max |Δlogit| = {diff}");
        // The comparison can fail: other image rows give other logits.
        var other = await off.ComputeLogitsAsync(ImagePrompt(off, seed: 2, width));
        Assert.True(byTokens.Zip(other, (x, y) => Math.Abs((double)x - y)).Max() > 1e-3);

        var answerOn = await Answer(on, prompt);
        var answerOff = await Answer(off, prompt);
        Assert.Equal(answerOff.Final.OutputTokens, answerOn.Final.OutputTokens);
        // The text after the image rides in the image's step: one prefill step instead of two.
        Assert.Equal(1, answerOn.Final.Timings.PrefillSteps);
        Assert.Equal(2, answerOff.Final.Timings.PrefillSteps);
    }

    /// <summary>A model whose token_embd is a k-quant (as LLaVA GGUFs ship it) and the rest F32, 256 wide (a k-quant row
    /// is whole blocks of 256). The blocks are random bytes with small finite fp16 scales: llama.cpp decodes any block.</summary>
    string KQuantModel(GgmlType type)
    {
        string path = dir.File($"tiny-{type}-table.gguf");
        if (File.Exists(path)) return path;
        var shape = TinyModels.Shape(width: 256);
        var writer = LlamaGgufWriter.Create(shape, TinyModels.Vocab, GgmlType.F32, new LlamaGgufOptions { Name = $"tiny-{type}-table" });
        var rng = new Random(5);
        // Where a block keeps its fp16 scales: Q4_K's and Q5_K's d and dmin lead it, Q6_K's d ends it.
        int[] halves = type == GgmlType.Q6_K ? [208] : [0, 2];
        int blockBytes = GgmlTypeInfo.TypeSize(type);
        foreach (var spec in shape.Tensors())
        {
            if (spec.Name != "token_embd.weight")
            {
                writer.AddTensor(spec.Name, spec.Ne, GgmlType.F32, LlamaGgufSynth.Generate(shape, spec, 29));
                continue;
            }
            var bytes = new byte[GgmlTypeInfo.RowBytes(type, spec.ElementCount)];
            rng.NextBytes(bytes);
            for (int b = 0; b < bytes.Length; b += blockBytes)
                foreach (int h in halves) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b + h), (Half)(0.0002 + 0.0002 * rng.NextDouble()));
            writer.AddRawTensor(spec.Name, spec.Ne, type, () => bytes);
        }
        writer.Write(path);
        return path;
    }

    [Fact]
    public async Task DecodingSequencesRideInAnImageStepAndAnswerAsAlone()
    {
        using var on = Load(Model(GgmlType.F32), tokensAsRows: true);
        using var off = Load(Model(GgmlType.F32), tokensAsRows: false);
        var text = new[] { PromptSegment.Text("the dog looks at the big tree and") };
        var alone = await Answer(off, text, tokens: 6);

        var steps = new List<SchedulerStep>();
        // The loop waits after the text sequence's first decode step until the image prompt is queued, so the next
        // step holds both: the text's next token goes in as a row of the image's step.
        using var imageQueued = new ManualResetEventSlim();
        on.Scheduler.StepObserver = s =>
        {
            lock (steps) steps.Add(s);
            if (s.DecodedSequences == 1) imageQueued.Wait(TimeSpan.FromSeconds(30));
        };
        using var a = on.CreateSession(keepHistory: false);
        using var b = on.CreateSession(keepHistory: false);
        var textRun = Collected.From(on.GenerateAsync(a, text, SamplingParams.Greedy(6) with { IgnoreEos = true }));
        await WaitUntil(() => { lock (steps) return steps.Any(s => s.DecodedSequences == 1); });
        // Enumeration starts (and queues the request) before the first await of Collected.From returns.
        var imageRun = Collected.From(on.GenerateAsync(b, ImagePrompt(on, seed: 3), SamplingParams.Greedy(2) with { IgnoreEos = true }));
        imageQueued.Set();
        var image = await imageRun;
        var textFinal = (await textRun).Final;

        Assert.Equal(alone.Final.OutputTokens, textFinal.OutputTokens);
        Assert.Equal(2, image.Final.Usage.CompletionTokens);
        lock (steps)
            Assert.Contains(steps, s => s.DecodedSequences == 1 && s.TokenPositions == 0 && s.EmbeddingPositions > 9);
    }

    [Fact]
    public void TablesThatDoNotFitAreRefusedWithTheReason()
    {
        string path = Model(GgmlType.F32);
        Assert.Null(TokenEmbeddingRows.TryOpen(path, TinyModels.Width + 1, TinyModels.Vocab.Count, out var reason));
        Assert.Contains("token_embd", reason);
        using var table = TokenEmbeddingRows.TryOpen(path, TinyModels.Width, TinyModels.Vocab.Count, out reason);
        Assert.NotNull(table);
        Assert.Null(reason);

        using var gguf = GgufFile.Open(path);
        var expected = new float[TinyModels.Width];
        gguf.ReadTensorRows("token_embd.weight", 7, 1, expected);
        var row = new float[TinyModels.Width];
        table!.Read(7, row);
        Assert.Equal(expected, row);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Read(TinyModels.Vocab.Count, row));
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !condition(); await Task.Delay(5))
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the engine did not reach the awaited step");
    }

    static async Task<Collected> Answer(LlmEngine engine, IReadOnlyList<PromptSegment> prompt, int tokens = 6)
    {
        using var session = engine.CreateSession(keepHistory: false);
        return await Collected.From(engine.GenerateAsync(session, prompt, SamplingParams.Greedy(tokens) with { IgnoreEos = true }));
    }
}
