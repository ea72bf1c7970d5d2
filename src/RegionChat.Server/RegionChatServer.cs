using OpenTelemetry.Metrics;
using RegionChat.Server.Internal;
using RegionChat.Server.Services;

namespace RegionChat.Server;

/// <summary>Service registration and endpoint mapping, shared by Program and the functional tests' in-process hosts.</summary>
public static class RegionChatServer
{
    public static void AddServices(WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ServerOptions.Section);
        builder.Services.Configure<ServerOptions>(section);
        var options = section.Get<ServerOptions>() ?? new ServerOptions();

        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<SessionStore>();
        builder.Services.AddSingleton<ImageStore>();
        builder.Services.AddSingleton<VisualTokenCache>();
        builder.Services.AddSingleton<VisionBatcher>();
        builder.Services.AddSingleton<ServerMetrics>();
        builder.Services.AddSingleton<ShutdownSignal>();
        builder.Services.AddSingleton(new AdmissionQueue(Math.Max(1, options.QueueSize)));
        builder.Services.AddSingleton<TurnRunner>();
        builder.Services.AddSingleton<ApiKeyInterceptor>();
        builder.Services.AddHostedService<SessionSweeper>();

        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<ApiKeyInterceptor>();
            o.MaxReceiveMessageSize = options.MaxReceiveMessageBytes;
            o.EnableDetailedErrors = false; // never send exception text or stack traces to clients
        });
        builder.Services.AddGrpcHealthChecks().AddCheck("model", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
        builder.Services.AddGrpcReflection();
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(ServerMetrics.MeterName).AddPrometheusExporter());
        builder.Logging.AddSimpleConsole(o => { o.IncludeScopes = true; o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
    }

    public static void MapEndpoints(WebApplication app)
    {
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var shutdown = app.Services.GetRequiredService<ShutdownSignal>();
        // SIGTERM: in-flight streams end with a CANCELLED final event, new calls get UNAVAILABLE, then the host stops.
        lifetime.ApplicationStopping.Register(shutdown.Trigger);

        var registry = app.Services.GetRequiredService<ModelRegistry>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RegionChat.Server");
        var model = registry.LoadDefault();
        log.LogInformation("serving models [{Models}] from {Path}; default {Default}", string.Join(", ", registry.Manifests.Keys), registry.ModelsPath, model.Id);
        lifetime.ApplicationStarted.Register(() =>
            log.LogInformation("RegionChat listening on {Urls} (gRPC h2c; health, reflection, /metrics)", string.Join(", ", app.Urls)));

        WebPage.Use(app);
        app.MapGrpcService<RegionChatService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapPrometheusScrapingEndpoint("/metrics");
    }
}
