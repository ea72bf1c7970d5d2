using System.Runtime.InteropServices;
using Grpc.AspNetCore.Web;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RegionChat.Inference;
using RegionChat.Server.Internal;
using RegionChat.Server.OpenAi;
using RegionChat.Server.Services;
using RegionChat.Server.Services.Internal;

namespace RegionChat.Server;

/// <summary>Service registration, listeners and endpoint mapping, shared by Program and the functional tests' in-process hosts.</summary>
public static class RegionChatServer
{
    const string CorsPolicy = "RegionChat";
    const string ModelHealthCheckName = "model";
    const string ProcessHealthCheckName = "process";

    public static void AddServices(WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ServerOptions.Section);
        // RegionChat__ApiKeys=KEY binds no key at all (a list wants __0): the server would run open believing it guarded.
        if (section.GetSection("ApiKeys").Value is { Length: > 0 })
            throw new OptionsValidationException(ServerOptions.Section, typeof(ServerOptions),
                ["RegionChat:ApiKeys is a single value, which sets no key: give a list (RegionChat__ApiKeys__0=KEY, " +
                 "--RegionChat:ApiKeys:0=KEY, or \"ApiKeys\": [\"KEY\"] in JSON)"]);
        // Bad settings stop the server at start with the setting's name, not at the first request.
        builder.Services.AddOptions<ServerOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();
        var options = section.Get<ServerOptions>() ?? new ServerOptions();

        builder.Services.AddSingleton(ServerListeners.Configure(builder, options));
        // Kestrel waits for calls in flight until the host's timeout, then cuts them: past the drain, so the calls the drain
        // ends get their CANCELLED final event first.
        builder.Services.Configure<HostOptions>(h =>
            h.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(h.ShutdownTimeout.TotalSeconds, Math.Min(options.ShutdownDrainSeconds, 86400) + 15)));
        // A slow client holds a socket, never a slot: bodies that trickle are cut off, headers must arrive in time.
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MinRequestBodyDataRate = options.MinRequestBodyBytesPerSecond > 0
                ? new MinDataRate(options.MinRequestBodyBytesPerSecond, TimeSpan.FromSeconds(Math.Max(2, options.RequestBodyGraceSeconds)))
                : null;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(Math.Max(1, options.RequestHeadersTimeoutSeconds));
            if (options.MaxConnections > 0) k.Limits.MaxConcurrentConnections = options.MaxConnections;
            // A deployer's Kestrel:Limits keys win over the settings above.
            KestrelLimitsSection.Apply(builder.Configuration.GetSection("Kestrel:Limits"), k.Limits);
        });
        builder.Services.AddSingleton(sp => new RegionChatCore(
            CoreOptions(sp.GetRequiredService<IOptions<ServerOptions>>().Value, sp.GetRequiredService<IHostEnvironment>().ContentRootPath),
            sp.GetRequiredService<ILogger<RegionChatCore>>()));
        builder.Services.AddSingleton(sp => sp.GetRequiredService<RegionChatCore>().VisionBatcher);
        builder.Services.AddSingleton<GrpcCalls>();
        builder.Services.AddSingleton<ApiKeyInterceptor>();
        builder.Services.AddHostedService<SessionSweeper>();
        OpenAiEndpoints.AddOpenAi(builder.Services);

        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<ApiKeyInterceptor>();
            o.MaxReceiveMessageSize = options.MaxReceiveMessageBytes;
            o.EnableDetailedErrors = false; // never send exception text or stack traces to clients
        });
        // regionchat.v1.RegionChat (readiness) answers from the model check: NOT_SERVING while the default model cannot
        // answer. "" (liveness) runs no check: the process serves. grpc-dotnet maps "" to every check unless told, and a
        // liveness probe that failed with a model would restart replicas a request for a broken model had touched.
        builder.Services.AddGrpcHealthChecks(o =>
            {
                o.Services.Map("regionchat.v1.RegionChat", r => r.Name == ModelHealthCheckName);
                o.Services.Map("", r => r.Name == ProcessHealthCheckName);
            })
            .AddCheck(ProcessHealthCheckName, () => HealthCheckResult.Healthy("the process serves"))
            .AddCheck<ModelHealthCheck>(ModelHealthCheckName);
        builder.Services.AddGrpcReflection();
        builder.Services.AddCors(o => o.AddPolicy(CorsPolicy, p =>
        {
            // No origins configured: the policy allows none, so only same-origin pages (the server's own) can call.
            var origins = options.Cors.AllowedOrigins.Where(x => x.Length > 0).ToArray();
            if (origins.Contains("*")) p.AllowAnyOrigin();
            else p.WithOrigins(origins);
            p.WithMethods("GET", "POST").AllowAnyHeader()
                // Browsers hide response headers from scripts unless exposed: gRPC-Web clients need the status ones.
                .WithExposedHeaders("grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding", "grpc-accept-encoding", "x-request-id",
                    SessionIds.Header, "retry-after", "www-authenticate");
        }));
        // Every scrape collects afresh: the exporter's default 300 ms response cache made a scrape miss the calls just before it.
        var telemetry = builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(RegionChatMetrics.MeterName)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        // A bad URL is the validator's to report (one line at start).
        if (options.OtlpTracesEndpoint.Length > 0 && ServerOptionsValidator.HttpUrl(options.OtlpTracesEndpoint) is { } endpoint)
        {
            // ASP.NET Core's own request spans (they continue a caller's traceparent), with the core's spans inside them.
            telemetry.ConfigureResource(r => r.AddService(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") ?? "regionchat"))
                .WithTracing(t => t.AddSource("Microsoft.AspNetCore", RegionChatTracing.SourceName)
                    .AddOtlpExporter(o => { o.Endpoint = endpoint; o.Protocol = OtlpExportProtocol.HttpProtobuf; }));
        }
        // One compact line per event unless Logging:Console:FormatterName picks another format; JSON logs carry every scope.
        builder.Logging.AddConsole(o => o.FormatterName ??= CompactConsoleFormatter.FormatterName)
            .AddConsoleFormatter<CompactConsoleFormatter, ConsoleFormatterOptions>();
        builder.Services.Configure<JsonConsoleFormatterOptions>(o => o.IncludeScopes = true);
    }

    /// <summary>The core's share of the server's settings.</summary>
    static RegionChatCoreOptions CoreOptions(ServerOptions o, string contentRoot) => new()
    {
        ModelsPath = o.ModelsPath, ContentRoot = contentRoot, DefaultModel = o.DefaultModel, Threads = o.Threads, LlmThreads = o.LlmThreads,
        QueueSize = o.QueueSize, MaxLoadedModels = o.MaxLoadedModels,
        ParallelSequences = o.ParallelSequences, ContextSize = o.ContextSize, BatchSize = o.BatchSize, GpuLayers = o.GpuLayers,
        OneShotSequences = o.OneShotSequences ?? o.ParallelSequences / 4,
        VisionDevice = o.Device, VisionDtype = o.VisionDtype,
        VisionMaxBatch = o.VisionMaxBatch, VisualCacheBytes = o.VisualCacheBytes, TowerPixelCacheBytes = o.TowerPixelCacheBytes,
        ImageStoreBytes = o.ImageStoreBytes, MaxImageBytes = o.MaxImageBytes,
        MaxImagePixels = o.MaxImagePixels, MaxPromptBytes = o.MaxPromptBytes, MaxIdLength = o.MaxIdLength, DefaultMaxTokens = o.DefaultMaxTokens,
        MaxHistoryMessages = o.MaxHistoryMessages, MaxHistoryBytes = o.MaxHistoryBytes,
        MaxTokensLimit = o.MaxTokensLimit, SessionIdleSeconds = o.SessionIdleSeconds, Regions = o.Regions,
        Models = o.Models.ToDictionary(m => m.Key, m => new PerModelOptions { VisualTokenBudget = m.Value.VisualTokenBudget }, StringComparer.Ordinal),
        LabelSets = o.LabelSets.ToDictionary(s => s.Key, s => (IReadOnlyList<string>)s.Value.Load().Labels, StringComparer.OrdinalIgnoreCase),
        SessionStore = new SessionStoreOptions
        {
            Redis = o.SessionStore.Redis, KeyPrefix = o.SessionStore.KeyPrefix, MaxBytes = o.SessionStore.MaxBytes,
            ImageFolder = o.SessionStore.ImageFolder, ImageBytes = o.SessionStore.ImageBytes, ImageSeconds = o.SessionStore.ImageSeconds,
            LeaseSeconds = o.SessionStore.LeaseSeconds,
        },
    };

    /// <summary>
    /// Builds and runs the server until <paramref name="ct"/> is cancelled or the host stops (SIGINT, SIGTERM); the exit
    /// code for a process. A listener whose address is taken, a bad setting or a model that does not load end it with
    /// one line on <paramref name="error"/> naming the setting to change, and exit code 1 (no stack trace).
    /// </summary>
    public static async Task<int> RunAsync(WebApplicationBuilder builder, TextWriter error, CancellationToken ct = default)
    {
        WebApplication? app = null;
        ServerListeners? listeners = null;
        // The host logs a failed start with its stack trace before it throws: the one line below says it all.
        bool started = false;
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => started && level >= LogLevel.Information);
        try
        {
            AddServices(builder);
            app = builder.Build();
            listeners = app.Services.GetRequiredService<ServerListeners>();
            MapEndpoints(app);
            await app.StartAsync(ct).ConfigureAwait(false);
            started = true;
            // The host's console lifetime turns the first SIGINT/SIGTERM into a drain; a second one ends the drain.
            var core = app.Services.GetRequiredService<RegionChatCore>();
            int signals = 0;
            void OnSignal(PosixSignalContext signal)
            {
                signal.Cancel = true;
                if (Interlocked.Increment(ref signals) >= 2) core.BeginShutdown();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            await app.WaitForShutdownAsync(ct).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (StartupError(e, listeners) is { } line)
        {
            error.WriteLine($"error: {line}");
            return 1;
        }
        finally
        {
            if (app != null) await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The one line a start-up failure the user can fix prints; null for anything else (a bug keeps its trace).</summary>
    static string? StartupError(Exception e, ServerListeners? listeners) => e switch
    {
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } when listeners != null =>
            $"{e.Message.TrimEnd('.')} (another server running?): set {listeners.SettingFor(e.Message)} to another address or port",
        OptionsValidationException or ServerListenerException or InvalidDataException => e.Message,
        // The configuration binder's: a setting that is not of its type (RegionChat__QueueSize=abc), naming it.
        InvalidOperationException when e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) => e.Message,
        // A load failure wrapped as unavailable keeps its trace unless the files were refused.
        ModelManifestException { InnerException: null or InvalidDataException or IOException } => e.Message,
        _ => null,
    };

    static async Task DrainAsync(RegionChatCore core, TimeSpan limit, ILogger log)
    {
        if (limit > TimeSpan.Zero) ServerLog.Draining(log, core.Admission.InFlight, limit.TotalSeconds);
        int left = await core.DrainAsync(limit).ConfigureAwait(false);
        if (left > 0) ServerLog.DrainCut(log, left);
        else if (limit > TimeSpan.Zero) ServerLog.Drained(log);
    }

    public static void MapEndpoints(WebApplication app)
    {
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var core = app.Services.GetRequiredService<RegionChatCore>();
        var listeners = app.Services.GetRequiredService<ServerListeners>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RegionChat.Server");
        var settings = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        // SIGTERM: new calls get UNAVAILABLE at once; admitted ones may finish within ShutdownDrainSeconds, the rest then
        // end with a CANCELLED final event. Meanwhile Kestrel waits for the calls (HostOptions.ShutdownTimeout, set above it).
        lifetime.ApplicationStopping.Register(() => _ = DrainAsync(core, TimeSpan.FromSeconds(settings.ShutdownDrainSeconds), log));
        var model = core.LoadDefaultModel();
        ServerLog.Serving(log, string.Join(", ", core.ModelIds), core.ModelsPath, model.Id);
        var (visionDevice, found, offload) = Accelerators.Describe(settings.Device);
        ServerLog.Accelerators(log, visionDevice, settings.Device, found, offload ? "supported" : "not supported by the loaded backend", settings.GpuLayers);
        if (settings.GpuLayers > 0 && !offload) ServerLog.GpuLayersOnCpuBackend(log, settings.GpuLayers);
        lifetime.ApplicationStarted.Register(() =>
        {
            if (listeners.FromKestrelSection)
                ServerLog.ListeningFromKestrelSection(log, string.Join(", ", app.Urls));
            if (listeners.GrpcUrls.Count > 0)
                ServerLog.ListeningGrpc(log, string.Join(", ", listeners.GrpcUrls));
            if (listeners.HttpUrls.Count > 0)
                ServerLog.ListeningHttp(log, string.Join(", ", listeners.HttpUrls));
            int keys = settings.ApiKeys.Count(k => k.Length > 0);
            var open = listeners.GrpcUrls.Concat(listeners.HttpUrls).Where(u => !u.IsLoopback).ToArray();
            if (keys > 0) ServerLog.ApiKeysOn(log, keys);
            else if (open.Length > 0 || listeners.FromKestrelSection)
                ServerLog.NoApiKeys(log, listeners.FromKestrelSection ? string.Join(", ", app.Urls) : string.Join(", ", open.Select(u => u.ToString())));
        });

        OpenAiEndpoints.UseErrorBodies(app);
        // The web page at "/": embedded files (see WebPage), so it is served whatever the host's content root.
        WebPage.Use(app);
        app.UseCors();
        app.Use(GrpcWebStreaming.Mark);
        app.UseGrpcWeb(new GrpcWebOptions { DefaultEnabled = true });

        app.MapGrpcService<RegionChatService>().RequireCors(CorsPolicy);
        app.MapGrpcHealthChecksService().RequireCors(CorsPolicy);
        app.MapGrpcReflectionService();
        OpenAiEndpoints.MapOpenAi(app, CorsPolicy);
        app.MapPrometheusScrapingEndpoint("/metrics");
        // For load balancers: /health answers 200 while the process serves; /health/ready runs the checks (the model's).
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready");
    }
}
