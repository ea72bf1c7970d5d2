using Microsoft.Extensions.Logging;
using RegionChat.TestSupport;
using RegionChat.Vision;

namespace RegionChat.Inference.Tests;

/// <summary>The model's load line (event 1001) says what it runs with, the torch CPU kernels included.</summary>
public class ModelLoadLogTests
{
    sealed class Lines : ILogger
    {
        public List<(int Id, string Text)> Logged { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Logged) Logged.Add((eventId.Id, formatter(state, exception)));
        }
    }

    [Fact]
    public void TheLoadLineNamesThreadsNumberTypeAndTorchKernels()
    {
        using var temp = new TempDir();
        var log = new Lines();
        using var core = RegionChatCore.ForModelFolder(TinyModel.Write(temp.File("tiny")),
            new RegionChatCoreOptions { Threads = 1, ContextSize = 512, ParallelSequences = 1 }, log);
        core.LoadDefaultModel();
        string line;
        lock (log.Logged) line = Assert.Single(log.Logged, l => l.Id == 1001).Text;
        Assert.Contains("1 torch threads; vision in float32", line);
        Assert.NotNull(TorchCpuKernels.InEffect);
        Assert.Contains($"torch CPU kernels {TorchCpuKernels.InEffect} ({TorchCpuKernels.Reason})", line);
    }
}
