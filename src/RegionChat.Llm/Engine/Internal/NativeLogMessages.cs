using Microsoft.Extensions.Logging;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>The log messages of the LLM runtime (event ids 1100–1199).</summary>
internal static partial class NativeLogMessages
{
    [LoggerMessage(EventId = 1100, Message = "llama.cpp: {Line}")]
    public static partial void Line(ILogger logger, LogLevel level, string line);
}
