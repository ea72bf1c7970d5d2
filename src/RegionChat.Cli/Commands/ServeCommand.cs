using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using RegionChat.Inference;
using RegionChat.Server;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat serve [--model ID|DIR] [--models DIR] [--host IP] [--grpc-port N] [--http-port N] [--threads N]
/// [--RegionChat:Setting=value …]`: the RegionChat server (RegionChat.Server's own start-up) from the CLI. Settings come
/// as for the server: appsettings.json in the current folder, RegionChat__… environment variables, --RegionChat:…=…
/// arguments; the flags above override them. With no arguments it serves models/shapes-tiny on the server's default
/// addresses.
/// </summary>
internal static class ServeCommand
{
    /// <summary>The server's appsettings.json defaults that are not the options' own (the CLI has no appsettings.json).</summary>
    static readonly Dictionary<string, string?> Defaults = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Grpc"] = "Warning",
    };

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Default model: an id under --models, or a model folder (holding model.json). " +
            "Default: shapes-tiny." };
        var models = new Option<DirectoryInfo?>("--models") { Description = "Folder of model folders (RegionChat:ModelsPath). Default: models/ (here, or " +
            "above the program)." };
        var host = new Option<string?>("--host") { Description = "IP address both listeners bind (default 127.0.0.1; 0.0.0.0 = every interface)." };
        var grpcPort = new Option<int?>("--grpc-port") { Description = "Port of the gRPC (h2c) listener (RegionChat:GrpcUrl; default " +
            "50051, 0 = a free port)." };
        var httpPort = new Option<int?>("--http-port") { Description = "Port of the HTTP/1.1 listener: gRPC-Web, OpenAI API, /metrics, /health, web page " +
            "(RegionChat:HttpUrl; default 8080, 0 = a free port)." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for TorchSharp and llama.cpp (RegionChat:Threads; default all cores; " +
            "a tower under a GFLOP gets one torch thread, and a GGUF under 64 MB one llama.cpp thread unless RegionChat:LlmThreads says otherwise)." };

        var command = new Command("serve", "Run the RegionChat server (gRPC, gRPC-Web, OpenAI API); any server setting as --RegionChat:Name=value.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var o in new Option[] { model, models, host, grpcPort, httpPort, threads }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            Dictionary<string, string?> flags;
            try
            {
                flags = Flags(parse.GetValue(model), parse.GetValue(models)?.FullName, parse.GetValue(host), parse.GetValue(grpcPort),
                    parse.GetValue(httpPort), parse.GetValue(threads));
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"error: {e.Message}");
                return 2;
            }
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = parse.UnmatchedTokens.ToArray() });
            // Lowest precedence: appsettings, environment and --RegionChat:… arguments win over these defaults.
            builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults });
            builder.Configuration.AddInMemoryCollection(flags);
            return await RegionChatServer.RunAsync(builder, error, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The configuration keys the friendly flags set (they win over every other source).</summary>
    static Dictionary<string, string?> Flags(string? model, string? modelsPath, string? host, int? grpcPort, int? httpPort, int? threads)
    {
        var settings = new Dictionary<string, string?>();
        if (modelsPath != null) settings["RegionChat:ModelsPath"] = modelsPath;
        if (model != null)
        {
            if (File.Exists(Path.Combine(model, ModelManifest.FileName)))
            {
                if (modelsPath != null) throw new ArgumentException("--model names a folder: give --models only with a model id");
                string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(model));
                settings["RegionChat:ModelsPath"] = Path.GetDirectoryName(dir);
                settings["RegionChat:DefaultModel"] = Path.GetFileName(dir);
            }
            else if (model.Contains('/') || model.Contains(Path.DirectorySeparatorChar))
                throw new ArgumentException($"--model: no {ModelManifest.FileName} in '{model}' (give a model folder or a model id)");
            else settings["RegionChat:DefaultModel"] = model;
        }
        if (host != null && !System.Net.IPAddress.TryParse(host, out _))
            throw new ArgumentException($"--host must be an IP address such as 127.0.0.1 or 0.0.0.0, got '{host}'");
        string bind = host == null ? "127.0.0.1" : host.Contains(':') ? $"[{host}]" : host;
        foreach (var (port, key, name) in new[] { (grpcPort, "RegionChat:GrpcUrl", "--grpc-port"), (httpPort, "RegionChat:HttpUrl", "--http-port") })
        {
            if (port is < 0 or > 65535) throw new ArgumentException($"{name} must be between 0 and 65535, got {port}");
            if (port != null) settings[key] = $"http://{bind}:{port}";
        }
        if (host != null)
        {
            // --host alone moves both listeners to their default ports on that address.
            settings.TryAdd("RegionChat:GrpcUrl", $"http://{bind}:50051");
            settings.TryAdd("RegionChat:HttpUrl", $"http://{bind}:8080");
        }
        if (threads is < 0) throw new ArgumentException($"--threads must be >= 0, got {threads}");
        if (threads != null) settings["RegionChat:Threads"] = threads.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }
}
