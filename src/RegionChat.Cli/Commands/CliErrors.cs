using RegionChat.Client;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;

namespace RegionChat.Cli.Commands;

/// <summary>The one error line of a failure: its message and those of its causes, without stack traces.</summary>
internal static class CliErrors
{
    public static string Line(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x != null; x = x.InnerException)
        {
            string message = x.Message.ReplaceLineEndings(" ").Trim();
            if (message.Length > 0 && !parts.Any(p => p.Contains(message, StringComparison.Ordinal))) parts.Add(message);
        }
        string kind = e is IOException or InvalidDataException or ArgumentException ? "" : $"{e.GetType().Name}: ";
        return $"error: {kind}{string.Join(": ", parts)}";
    }

    /// <summary>The failures a bench verb reports as one line instead of a stack trace.</summary>
    public static bool IsExpected(Exception e) =>
        e is RegionChatException or ArgumentException or IOException or InvalidDataException or ModelManifestException or LlmEngineException
            or InvalidImageException or InvalidOperationException;

    /// <summary>Writes the failure's line and returns the exit code: 2 for bad arguments, 1 otherwise.</summary>
    public static int Report(Exception e, TextWriter error)
    {
        error.WriteLine(e is RegionChatException r ? ServerArguments.ErrorLine(r) : $"error: {e.Message}");
        return e is ArgumentException ? 2 : 1;
    }
}
