using System.Text;
using LLama.Native;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Quiets llama.cpp's chatty stderr log (hundreds of lines per model load) and keeps its recent warnings and errors,
/// so a failed load can say why. llama.cpp has one process-wide log callback; installing it twice is harmless.
/// </summary>
internal static class NativeLog
{
    const int Keep = 20;
    static readonly Queue<string> Recent = new();
    static readonly StringBuilder Line = new();
    static LLamaLogLevel _lineLevel;
    static bool _installed;

    public static void Install()
    {
        lock (Recent)
        {
            if (_installed) return;
            _installed = true;
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
        lock (Recent)
        {
            if (level != LLamaLogLevel.Continue) _lineLevel = level;
            if (_lineLevel is not (LLamaLogLevel.Warning or LLamaLogLevel.Error)) return;
            Line.Append(message);
            if (!message.EndsWith('\n')) return;
            Recent.Enqueue(Line.ToString().Trim());
            Line.Clear();
            while (Recent.Count > Keep) Recent.Dequeue();
        }
    }
}
