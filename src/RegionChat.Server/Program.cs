using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;
using RegionChat.Server;
using RegionChat.Server.Internal;
using RegionChat.Server.Services;

var builder = WebApplication.CreateBuilder(args);
// With no --urls / ASPNETCORE_URLS / Kestrel section, serve gRPC over h2c on the loopback, port 50051.
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any() == false)
    builder.WebHost.UseUrls("http://127.0.0.1:50051");
builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
RegionChatServer.AddServices(builder);

var app = builder.Build();
RegionChatServer.MapEndpoints(app);
app.Run();

/// <summary>Program entry point, visible to the functional tests.</summary>
public partial class Program;
