using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using RegionChat.Inference;
using RegionChat.Server;

namespace RegionChat.Cli.Commands;

/// <summary>
/// The real RegionChat server (Kestrel, h2c, the same services and endpoints as RegionChat.Server's Program) on a free
/// loopback port, serving one model folder as the default model. Its logs go to stderr, so stdout stays clean.
/// </summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    readonly WebApplication app;

    InProcessServer(WebApplication app, Uri address, Uri? httpAddress, string modelId)
    {
        this.app = app;
        Address = address;
        HttpAddress = httpAddress;
        ModelId = modelId;
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public Uri Address { get; }
    /// <summary>The HTTP/1.1 listener (/v1, gRPC-Web) when the settings give RegionChat:HttpUrl one address; else null.</summary>
    public Uri? HttpAddress { get; }
    /// <summary>The served model's id (its folder name).</summary>
    public string ModelId { get; }
    /// <summary>The serving core's settings in force (defaults, then configuration and the environment).</summary>
    public RegionChatCoreOptions CoreOptions => app.Services.GetRequiredService<RegionChatCore>().Options;

    /// <summary>Starts a server on <paramref name="modelDir"/>; <paramref name="settings"/> are configuration keys such
    /// as "RegionChat:Threads" (they win over the defaults set here).</summary>
    public static async Task<InProcessServer> StartAsync(string modelDir, IReadOnlyDictionary<string, string?>? settings = null)
    {
        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir));
        string modelId = Path.GetFileName(dir);
        var config = new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.GetDirectoryName(dir),
            ["RegionChat:DefaultModel"] = modelId,
            ["Logging:LogLevel:Default"] = "Warning",
            // One h2c listener on a free loopback port; no HTTP/1.1 listener (it would take the default port 8080).
            ["RegionChat:GrpcUrl"] = "http://127.0.0.1:0",
            ["RegionChat:HttpUrl"] = "",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(config);
        RegionChatServer.AddServices(builder);
        // Every log line to stderr: stdout carries only the command's own output (answers, JSON).
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        var app = builder.Build();
        try
        {
            RegionChatServer.MapEndpoints(app);
            await app.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        // Kestrel lists the addresses in the order they were bound: the gRPC listener's, then the HTTP/1.1 one's.
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        return new InProcessServer(app, new Uri(addresses[0]), addresses.Length > 1 ? new Uri(addresses[1]) : null, modelId);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
