using Microsoft.Extensions.Logging;

namespace RegionChat.Inference.Internal;

/// <summary>The log messages of the serving core (event ids 1000–1099; llama.cpp's own log is 1100–1199, the server's
/// 1200–1299).</summary>
internal static partial class CoreLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "skipping model folder {Dir}: {Error}")]
    public static partial void ModelFolderSkipped(ILogger logger, string dir, string error);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "loaded model {Model} from {Dir} in {Ms:F0} ms ({Tokens} visual tokens, LLM width {Width}, context {Ctx}, " +
                  "{LlmThreads} llama.cpp threads, {VisionThreads} torch threads; vision in {Dtype}: the CPU {Bf16} bf16 instructions; " +
                  "text beside image rows: {TextRows})")]
    public static partial void ModelLoaded(ILogger logger, string model, string dir, double ms, int tokens, int width, int ctx, int llmThreads,
        int visionThreads, string dtype, string bf16, string textRows);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "session records: {Kind} store")]
    public static partial void SessionStoreKind(ILogger logger, string kind);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "session store failed ({What}, session {Session}): {Error}")]
    public static partial void SessionStoreFailed(ILogger logger, string what, string session, string error);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information,
        Message = "restored session {Session} ({Why}) from {Turns} recorded turns")]
    public static partial void SessionRestored(ILogger logger, string session, string why, int turns);
}
