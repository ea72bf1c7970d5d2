using RegionChat.Server;

// Listeners: gRPC h2c on RegionChat:GrpcUrl (default http://127.0.0.1:50051; --urls sets it too) and HTTP/1.1 on
// RegionChat:HttpUrl (default http://127.0.0.1:8080) for gRPC-Web, the OpenAI-compatible API, /metrics and the web page.
return await RegionChatServer.RunAsync(WebApplication.CreateBuilder(args), Console.Error);

/// <summary>Program entry point, visible to the functional tests.</summary>
public partial class Program;
