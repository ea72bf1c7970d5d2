using System.Text;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Routes llama.cpp's log (hundreds of lines per model load, otherwise on stderr) to an <see cref="ILogger"/> and keeps
/// its recent warnings and errors, so a failed load can say why. llama.cpp has one process-wide log callback, so the
/// logger is process-wide too: the last engine loaded with a logger sets it.
/// </summary>
internal static class NativeLog
{
    const int Keep = 20;
    static readonly Queue<string> Recent = new();
    static readonly StringBuilder Line = new();
    static LLamaLogLevel lineLevel;
    static bool installed;
    static ILogger? sink;

    public static void Install(ILogger? logger)
    {
        lock (Recent)
        {
            if (logger != null) sink = logger;
            if (installed) return;
            installed = true;
        }
        // Load the library first: before that, LLamaSharp only records the callback for its loader, which throws if
        // another thread loads the library in between.
        NativeApi.llama_empty_call();
        NativeLogConfig.llama_log_set(OnMessage);
    }

    /// <summary>The recent warning and error lines, oldest first.</summary>
    public static string RecentProblems()
    {
        lock (Recent) return string.Join(" | ", Recent);
    }

    static void OnMessage(LLamaLogLevel level, string message)
    {
        string line;
        LogLevel logLevel;
        ILogger? logger;
        lock (Recent)
        {
            if (level != LLamaLogLevel.Continue) lineLevel = level;
            // llama.cpp writes a line in pieces; a piece without its newline waits for the rest.
            Line.Append(message);
            if (!message.EndsWith('\n')) return;
            line = Line.ToString().Trim();
            Line.Clear();
            logLevel = lineLevel switch
            {
                LLamaLogLevel.Error => LogLevel.Error,
                LLamaLogLevel.Warning => LogLevel.Warning,
                LLamaLogLevel.Info => LogLevel.Debug,   // model-load chatter: visible only when asked for
                _ => LogLevel.Trace,
            };
            if (logLevel >= LogLevel.Warning)
            {
                Recent.Enqueue(line);
                while (Recent.Count > Keep) Recent.Dequeue();
            }
            logger = sink;
        }
        if (line.Length > 0 && logger?.IsEnabled(logLevel) == true) NativeLogMessages.Line(logger, logLevel, line);
    }
}
