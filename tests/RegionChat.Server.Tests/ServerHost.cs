using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RegionChat.Server;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests;

/// <summary>A real RegionChat server (Kestrel, h2c) on a free loopback port, serving tiny models written to a temp dir.</summary>
public sealed class ServerHost : IAsyncDisposable
{
    readonly TempDir temp = new();
    readonly WebApplication app;

    public string ModelsPath { get; }
    public Uri Address { get; }
    public GrpcChannel Channel { get; }
    public PbV1.RegionChat.RegionChatClient Client { get; }
    public IServiceProvider Services => app.Services;

    ServerHost(WebApplication app, string modelsPath, Uri address)
    {
        this.app = app;
        ModelsPath = modelsPath;
        Address = address;
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20, MaxSendMessageSize = 64 << 20 });
        Client = new PbV1.RegionChat.RegionChatClient(Channel);
    }

    /// <summary>Starts a server with model "tiny" (the default) and any extra settings ("RegionChat:QueueSize" = "2", …).</summary>
    public static async Task<ServerHost> StartAsync(IDictionary<string, string?>? settings = null, TempDir? reuseModels = null)
    {
        var temp = new TempDir();
        string models = temp.File("models");
        TinyModel.Write(Path.Combine(models, "tiny"));
        var config = new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = models,
            ["RegionChat:DefaultModel"] = "tiny",
            ["RegionChat:Threads"] = "1",
            ["RegionChat:ContextSize"] = "4096",
            ["RegionChat:ParallelSequences"] = "8",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(config);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        RegionChatServer.AddServices(builder);
        var app = builder.Build();
        RegionChatServer.MapEndpoints(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new ServerHost(app, models, new Uri(address));
        host.ownedTemp = temp;
        return host;
    }

    TempDir? ownedTemp;

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        ownedTemp?.Dispose();
        temp.Dispose();
    }
}
