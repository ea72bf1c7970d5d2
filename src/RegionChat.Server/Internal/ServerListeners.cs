using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace RegionChat.Server.Internal;

/// <summary>
/// The server's two kinds of listener: native gRPC over h2c (HTTP/2 without TLS, <see cref="ServerOptions.GrpcUrl"/>) and
/// HTTP/1.1 (<see cref="ServerOptions.HttpUrl"/>) for gRPC-Web, the OpenAI-compatible API, /metrics and the web page.
/// Cleartext HTTP cannot offer both protocols on one port (there is no TLS to negotiate them), hence two listeners.
/// A "Kestrel:Endpoints" configuration section, when present, takes over instead (set each endpoint's Protocols there).
/// </summary>
internal sealed class ServerListeners
{
    readonly List<(string Host, ListenOptions Options)> grpc = [], http = [];

    /// <summary>True when Kestrel:Endpoints defines the listeners (then the lists below are empty).</summary>
    public bool FromKestrelSection { get; private init; }

    /// <summary>The bound gRPC (h2c) URLs; ports chosen by the system (port 0) are known once the server started.</summary>
    public IReadOnlyList<Uri> GrpcUrls => grpc.Select(Url).ToArray();
    public IReadOnlyList<Uri> HttpUrls => http.Select(Url).ToArray();

    public static ServerListeners Configure(WebApplicationBuilder builder, ServerOptions options)
    {
        if (builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
            return new ServerListeners { FromKestrelSection = true };
        // --urls and ASPNETCORE_URLS set the gRPC address before the HTTP/1.1 listener existed; they still do.
        string grpcUrls = builder.Configuration["urls"] is { Length: > 0 } urls ? urls : options.GrpcUrl;
        var grpcAddresses = Parse(grpcUrls, "RegionChat:GrpcUrl (or --urls)");
        var httpAddresses = Parse(options.HttpUrl, "RegionChat:HttpUrl");
        if (grpcAddresses.Count + httpAddresses.Count == 0)
            throw new ServerListenerException("no listener: RegionChat:GrpcUrl and RegionChat:HttpUrl are both empty");
        var listeners = new ServerListeners
        {
            grpcPorts = grpcAddresses.Select(a => a.Port).ToArray(),
            httpPorts = httpAddresses.Select(a => a.Port).ToArray(),
            grpcSetting = builder.Configuration["urls"] is { Length: > 0 } ? "--urls (ASPNETCORE_URLS)" : "RegionChat:GrpcUrl (regionchat serve: --grpc-port)",
        };
        builder.WebHost.ConfigureKestrel(k =>
        {
            listeners.grpc.Clear();
            listeners.http.Clear();
            foreach (var (host, port) in grpcAddresses) Listen(k, host, port, HttpProtocols.Http2, listeners.grpc);
            foreach (var (host, port) in httpAddresses) Listen(k, host, port, HttpProtocols.Http1, listeners.http);
        });
        return listeners;
    }

    /// <summary>The setting that holds the address in a bind failure's <paramref name="message"/> ("Failed to bind to
    /// address http://127.0.0.1:8080: address already in use.").</summary>
    public string SettingFor(string message)
    {
        var bound = System.Text.RegularExpressions.Regex.Match(message, @"https?://\S+:(\d+)");
        if (bound.Success && !FromKestrelSection)
        {
            int port = int.Parse(bound.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (grpcPorts.Contains(port)) return grpcSetting;
            if (httpPorts.Contains(port)) return "RegionChat:HttpUrl (regionchat serve: --http-port)";
        }
        return FromKestrelSection ? "the Kestrel:Endpoints section" : $"{grpcSetting} or RegionChat:HttpUrl";
    }

    int[] grpcPorts = [], httpPorts = [];
    string grpcSetting = "RegionChat:GrpcUrl";

    static void Listen(KestrelServerOptions k, string host, int port, HttpProtocols protocols, List<(string, ListenOptions)> into)
    {
        void Configure(ListenOptions l)
        {
            l.Protocols = protocols;
            into.Add((host, l));
        }
        if (host == "localhost") k.ListenLocalhost(port, Configure);
        else if (host is "*" or "+") k.ListenAnyIP(port, Configure);
        else k.Listen(IPAddress.Parse(host), port, Configure);
    }

    /// <summary>"http://HOST:PORT[;…]" → (host, port) pairs; HOST is an IP address, localhost, * or +.</summary>
    static List<(string Host, int Port)> Parse(string urls, string setting)
    {
        var result = new List<(string, int)>();
        foreach (string url in urls.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            BindingAddress address;
            try { address = BindingAddress.Parse(url); }
            catch (FormatException e) { throw new ServerListenerException($"{setting}: '{url}' is not a URL such as http://127.0.0.1:8080 ({e.Message})"); }
            if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase))
                throw new ServerListenerException($"{setting}: '{url}' must be http:// (TLS is not configured here: put a TLS proxy in front, or " +
                    "define Kestrel:Endpoints)");
            if (address.PathBase.Length > 0)
                throw new ServerListenerException($"{setting}: '{url}' must not have a path");
            string host = address.Host.Trim('[', ']');
            if (!(host is "localhost" or "*" or "+" || IPAddress.TryParse(host, out _)))
                throw new ServerListenerException($"{setting}: '{url}' must name an IP address, localhost or * (host names are not resolved)");
            if (host == "localhost" && address.Port == 0)
                throw new ServerListenerException($"{setting}: '{url}': a free port (0) needs an IP address such as 127.0.0.1, not localhost");
            result.Add((host.ToLowerInvariant(), address.Port));
        }
        return result;
    }

    static Uri Url((string Host, ListenOptions Options) l) =>
        l.Host == "localhost" ? new Uri($"http://localhost:{l.Options.IPEndPoint!.Port}/") : new Uri($"http://{l.Options.IPEndPoint}/");
}

/// <summary>A listener setting that cannot work (not a URL, https, a host name, …); the message names the setting.</summary>
internal sealed class ServerListenerException(string message) : InvalidOperationException(message);
