using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace RegionChat.Server.Internal;

/// <summary>
/// The default console log format: one line of time, level, category, the call's request id and the message. ASP.NET's
/// scopes (connection, path, trace and span ids: ~250 characters) are left out; the JSON format
/// (<c>Logging:Console:FormatterName=json</c>) writes all of them.
/// </summary>
internal sealed class CompactConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "regionchat";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message.Length == 0 && logEntry.Exception == null) return;
        var line = new StringBuilder(128);
        line.Append(DateTime.Now.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture)).Append(Level(logEntry.LogLevel))
            .Append(": ").Append(logEntry.Category).Append(' ');
        // The request id of a RegionChat call (the scope GrpcCalls and OpenAiCalls open, not ASP.NET's own "RequestId"),
        // so a client's x-request-id finds its lines.
        scopeProvider?.ForEachScope(static (scope, b) =>
        {
            if (scope is IReadOnlyList<KeyValuePair<string, object?>> values
                && values.Any(v => v is { Key: "{OriginalFormat}", Value: RequestIds.ScopeFormat })
                && values.FirstOrDefault(v => v.Key == "RequestId").Value is string id)
                b.Append(id).Append(' ');
        }, line);
        line.Append(message.ReplaceLineEndings(" "));
        if (logEntry.Exception != null) line.Append(' ').Append(logEntry.Exception.ToString().ReplaceLineEndings(" "));
        textWriter.WriteLine(line.ToString());
    }

    static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
