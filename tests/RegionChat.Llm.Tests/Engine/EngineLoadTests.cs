using Microsoft.Extensions.Logging;
using RegionChat.Llm.Engine;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class EngineLoadTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public void LoadReportsTheModelFacts()
    {
        using var engine = models.Load(contextSize: 512, batchSize: 32, maxSequences: 4);
        var f = engine.Facts;
        Assert.Equal(TinyModels.Width, f.EmbeddingWidth);
        Assert.Equal(TinyModels.Vocab.Count, f.VocabSize);
        Assert.Equal(2, f.LayerCount);
        Assert.Equal(512, f.TrainContextLength);
        Assert.Equal(512, f.ContextSize);
        Assert.Equal(32, f.BatchSize);
        Assert.Equal(4, f.MaxSequences);
        Assert.Equal(TinyModels.Vocab.BosId, f.BosToken);
        Assert.Equal(TinyModels.Vocab.EosId, f.EosToken);
        Assert.Equal("<s>", f.BosText);
        Assert.True(f.AddBos);
        Assert.Null(f.ChatTemplate);
    }

    [Fact]
    public void ChatTemplateOfTheGgufIsReported()
    {
        const string chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
        using var engine = models.Load(chatTemplate: chatml);
        Assert.Equal(chatml, engine.Facts.ChatTemplate);
    }

    [Fact]
    public void VisualWidthMismatchIsAClearError()
    {
        using var engine = models.Load();
        engine.ValidateVisualWidth(TinyModels.Width);
        var e = Assert.Throws<ArgumentException>(() => engine.ValidateVisualWidth(4096));
        Assert.Equal("width", e.ParamName);
        Assert.Contains("4096", e.Message);
        Assert.Contains("64", e.Message);

        using var session = engine.CreateSession();
        var wrong = Blocks.Random(3, seed: 1, width: 32);
        var e2 = Assert.Throws<ArgumentException>(() =>
            engine.GenerateAsync(session, [PromptSegment.Embeddings(wrong)], SamplingParams.Greedy(1)));
        Assert.Contains("32", e2.Message);
    }

    [Fact]
    public void BadOptionsAreRejectedBeforeLoading()
    {
        string path = models.Model();
        Assert.Throws<FileNotFoundException>(() => LlmEngine.Load(new LlmEngineOptions { ModelPath = path + ".missing" }));
        AssertBad(new LlmEngineOptions { ModelPath = path, ContextSize = 0 }, nameof(LlmEngineOptions.ContextSize));
        AssertBad(new LlmEngineOptions { ModelPath = path, BatchSize = -1 }, nameof(LlmEngineOptions.BatchSize));
        AssertBad(new LlmEngineOptions { ModelPath = path, Threads = 0 }, nameof(LlmEngineOptions.Threads));
        AssertBad(new LlmEngineOptions { ModelPath = path, BatchThreads = 0 }, nameof(LlmEngineOptions.BatchThreads));
        AssertBad(new LlmEngineOptions { ModelPath = path, GpuLayers = -1 }, nameof(LlmEngineOptions.GpuLayers));
        AssertBad(new LlmEngineOptions { ModelPath = path, MaxSequences = 0 }, nameof(LlmEngineOptions.MaxSequences));
        AssertBad(new LlmEngineOptions { ModelPath = path, BatchSize = 4, MaxSequences = 8 }, nameof(LlmEngineOptions.MaxSequences));
        // More sequences than context cells: llama.cpp would abort the whole process (GGML_ASSERT on n_outputs_max).
        AssertBad(new LlmEngineOptions { ModelPath = path, ContextSize = 16, BatchSize = 64, MaxSequences = 32 }, nameof(LlmEngineOptions.MaxSequences));

        static void AssertBad(LlmEngineOptions o, string name) =>
            Assert.Equal(name, Assert.ThrowsAny<ArgumentException>(() => LlmEngine.Load(o)).ParamName);
    }

    [Fact]
    public void AFileThatIsNotAModelIsInvalidData()
    {
        using var dir = new TempDir();
        string path = dir.File("junk.gguf");
        File.WriteAllBytes(path, [.. "GGUF"u8, 3, 0, 0, 0, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => LlmEngine.Load(new LlmEngineOptions { ModelPath = path, Threads = 1 }));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void LlamaCppsOwnLogGoesToTheLogger()
    {
        var log = new LinesLogger();
        using (LlmEngine.Load(new LlmEngineOptions { ModelPath = models.Model(), ContextSize = 256, Threads = 1, BatchThreads = 1 }, log)) { }
        // llama.cpp describes every model it loads ("llama_model_loader: …", "print_info: …") at its info level.
        Assert.Contains(log.Lines, l => l.Level == LogLevel.Debug && l.Text.StartsWith("llama.cpp: ", StringComparison.Ordinal)
                                        && l.Text.Contains("n_embd", StringComparison.Ordinal));
        Assert.All(log.Lines, l => Assert.EndsWith(l.Text.Trim(), l.Text));
    }

    sealed class LinesLogger : ILogger
    {
        readonly List<(LogLevel Level, string Text)> lines = [];

        public IReadOnlyList<(LogLevel Level, string Text)> Lines { get { lock (lines) return [.. lines]; } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (lines) lines.Add((logLevel, formatter(state, exception)));
        }
    }
}
