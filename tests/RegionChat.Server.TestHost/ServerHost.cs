using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RegionChat.Inference;
using RegionChat.Inference.Internal;
using RegionChat.Server.Internal;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.TestHost;

/// <summary>A real RegionChat server on free loopback ports (gRPC h2c and HTTP/1.1), serving the tiny random model "tiny".</summary>
public sealed class ServerHost : IAsyncDisposable
{
    /// <summary>One tiny model folder per test run: hosts only read it, and writing it costs torch's start-up once.</summary>
    static readonly Lazy<string> SharedModels = new(() =>
    {
        var temp = new TempDir();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => temp.Dispose();
        string models = temp.File("models");
        TinyModel.Write(Path.Combine(models, "tiny"));
        return models;
    });

    /// <summary>The folder of the tiny model every host serves (read it, never write it).</summary>
    public static string TinyModelFolder => Path.Combine(SharedModels.Value, "tiny");

    readonly WebApplication app;
    readonly HttpClient http;
    bool stopped;

    ServerHost(WebApplication app, Uri address, Uri httpAddress)
    {
        this.app = app;
        Address = address;
        HttpAddress = httpAddress;
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20, MaxSendMessageSize = 64 << 20 });
        Client = new PbV1.RegionChat.RegionChatClient(Channel);
        // /metrics over plain HTTP/1.1, on the HTTP/1.1 listener.
        http = new HttpClient { BaseAddress = httpAddress, DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    /// <summary>The gRPC (h2c) listener.</summary>
    public Uri Address { get; }
    /// <summary>The HTTP/1.1 listener (gRPC-Web, OpenAI API, /metrics).</summary>
    public Uri HttpAddress { get; }
    public GrpcChannel Channel { get; }
    public PbV1.RegionChat.RegionChatClient Client { get; }
    public IServiceProvider Services => app.Services;

    /// <summary>The serving core behind both APIs.</summary>
    public RegionChatCore Core => Services.GetRequiredService<RegionChatCore>();
    internal RegionChatModel Model => Core.Model("")!;
    internal AdmissionQueue Admission => Core.Admission;
    internal SessionStore Sessions => Core.Sessions;
    internal ShutdownSignal Shutdown => Core.Shutdown;

    /// <summary>Starts a server with model "tiny" (the default) and any extra settings ("RegionChat:QueueSize" = "2", …).</summary>
    public static async Task<ServerHost> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = SharedModels.Value,
            ["RegionChat:DefaultModel"] = "tiny",
            ["RegionChat:Threads"] = "1",
            ["RegionChat:ContextSize"] = "4096",
            ["RegionChat:ParallelSequences"] = "8",
            ["RegionChat:GrpcUrl"] = "http://127.0.0.1:0",
            ["RegionChat:HttpUrl"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            // Tests stop hosts with calls still running: end them at once (ShutdownTests set a drain).
            ["RegionChat:ShutdownDrainSeconds"] = "0",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(config);
        RegionChatServer.AddServices(builder);
        var app = builder.Build();
        RegionChatServer.MapEndpoints(app);
        await app.StartAsync();
        var listeners = app.Services.GetRequiredService<ServerListeners>();
        return new ServerHost(app, listeners.GrpcUrls[0], listeners.HttpUrls[0]);
    }

    /// <summary>Starts a server with the given "RegionChat:" settings ("QueueSize" = "2", …).</summary>
    public static Task<ServerHost> StartAsync(params (string Key, string Value)[] settings) =>
        StartAsync(settings.ToDictionary(s => "RegionChat:" + s.Key, s => (string?)s.Value));

    /// <summary>Metadata carrying an API key as "authorization: Bearer KEY".</summary>
    public static Metadata Bearer(string key) => new() { { "authorization", "Bearer " + key } };

    /// <summary>The Prometheus text of /metrics (HTTP/1.1); every scrape is current (the server's exporter does not cache).</summary>
    public async Task<string> MetricsAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await http.GetStringAsync("/metrics", cts.Token);
    }

    /// <summary>Stops the host as SIGTERM would (in-flight streams end, new calls are refused).</summary>
    public Task StopAsync()
    {
        stopped = true;
        return app.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        Channel.Dispose();
        // Bounded: a stop that hangs fails the test that disposes the host instead of holding the whole run.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        if (!stopped) await app.StopAsync(timeout.Token).WaitAsync(TimeSpan.FromSeconds(90));
        await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
    }
}
