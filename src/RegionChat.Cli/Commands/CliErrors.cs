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
}
