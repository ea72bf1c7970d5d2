using Grpc.Core;

namespace RegionChat.Server.Internal;

/// <summary>The log messages of the server (event ids 1200–1299: start 1200–1209, gRPC calls 1210–1219, OpenAI calls
/// 1220–1229, sessions 1230–1239; the core logs 1000–1099, llama.cpp 1100–1199).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "serving models [{Models}] from {Path}; default {Default}")]
    public static partial void Serving(ILogger logger, string models, string path, string @default);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "RegionChat listening on {Urls} (endpoints from the Kestrel:Endpoints section)")]
    public static partial void ListeningFromKestrelSection(ILogger logger, string urls);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "RegionChat gRPC (h2c; health, reflection) listening on {Urls}")]
    public static partial void ListeningGrpc(ILogger logger, string urls);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information,
        Message = "RegionChat HTTP/1.1 (gRPC-Web, OpenAI API /v1, /metrics, /health, web page /) listening on {Urls}")]
    public static partial void ListeningHttp(ILogger logger, string urls);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information,
        Message = "vision tower on {VisionDevice} (RegionChat:Device={Device}; {Found}); llama.cpp GPU offload {Offload} (RegionChat:GpuLayers={GpuLayers})")]
    public static partial void Accelerators(ILogger logger, string visionDevice, string device, string found, string offload, int gpuLayers);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning,
        Message = "RegionChat:GpuLayers is {GpuLayers} but the loaded llama.cpp backend cannot offload to a GPU (the CPU build); every layer runs on the CPU")]
    public static partial void GpuLayersOnCpuBackend(ILogger logger, int gpuLayers);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "API keys: {Count} (every API but health needs authorization: Bearer)")]
    public static partial void ApiKeysOn(ILogger logger, int count);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Warning,
        Message = "no API keys are set (RegionChat:ApiKeys): every API is open to whoever reaches {Urls}")]
    public static partial void NoApiKeys(ILogger logger, string urls);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Information, Message = "{Method} {Code} in {Ms:F1} ms")]
    public static partial void GrpcCallFinished(ILogger logger, string method, StatusCode code, double ms);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Information, Message = "{Method} ended by {Code}: {Error}")]
    public static partial void GrpcCallCancelled(ILogger logger, string method, StatusCode code, string error);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Error, Message = "{Method} failed")]
    public static partial void GrpcCallFailed(ILogger logger, Exception exception, string method);

    [LoggerMessage(EventId = 1213, Level = LogLevel.Information, Message = "{Method} → {Code}: {Message}")]
    public static partial void GrpcCallRefused(ILogger logger, string method, StatusCode code, string message);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Error, Message = "{Method} {Id} failed")]
    public static partial void GrpcItemFailed(ILogger logger, Exception exception, string method, string id);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Information, Message = "{Method} {Status} in {Ms:F1} ms")]
    public static partial void OpenAiCallFinished(ILogger logger, string method, string status, double ms);

    [LoggerMessage(EventId = 1221, Level = LogLevel.Information, Message = "{Method} ended by the client: {Error}")]
    public static partial void OpenAiCallCancelled(ILogger logger, string method, string error);

    [LoggerMessage(EventId = 1222, Level = LogLevel.Error, Message = "{Method} failed")]
    public static partial void OpenAiCallFailed(ILogger logger, Exception exception, string method);

    [LoggerMessage(EventId = 1223, Level = LogLevel.Information, Message = "{Method} → {Status}: {Message}")]
    public static partial void OpenAiCallRefused(ILogger logger, string method, int status, string message);

    [LoggerMessage(EventId = 1230, Level = LogLevel.Information, Message = "expired {Count} idle session(s)")]
    public static partial void SessionsExpired(ILogger logger, int count);

    [LoggerMessage(EventId = 1240, Level = LogLevel.Information,
        Message = "shutting down: new requests are refused; {InFlight} in flight may finish within {Seconds} s (signal again to end them now)")]
    public static partial void Draining(ILogger logger, int inFlight, double seconds);

    [LoggerMessage(EventId = 1241, Level = LogLevel.Information, Message = "shutting down: every request finished")]
    public static partial void Drained(ILogger logger);

    [LoggerMessage(EventId = 1242, Level = LogLevel.Warning, Message = "shutting down: {Count} request(s) still in flight end now (CANCELLED)")]
    public static partial void DrainCut(ILogger logger, int count);
}
