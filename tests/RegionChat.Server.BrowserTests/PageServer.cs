using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RegionChat.TestSupport;

namespace RegionChat.Server.BrowserTests;

/// <summary>
/// A real RegionChat server on a free loopback port, speaking HTTP/1.1 as a browser does. It serves two models from a
/// temporary models folder: a copy of the committed <c>models/shapes-tiny</c> (the default, which knows the shapes world)
/// and "tiny", a random model whose answers run on to max_tokens (long enough to be stopped mid-answer).
/// </summary>
public sealed class PageServer : IAsyncDisposable
{
    public const string ShapesModel = "shapes-tiny", RandomModel = "tiny";

    readonly WebApplication app;
    readonly TempDir models;

    PageServer(WebApplication app, TempDir models, Uri address)
    {
        this.app = app;
        this.models = models;
        Address = address;
    }

    /// <summary>The page's URL ("http://127.0.0.1:PORT/").</summary>
    public Uri Address { get; }

    /// <summary>The committed model folder, or null when this checkout has none.</summary>
    public static string? CommittedShapesModel
    {
        get
        {
            string dir = Path.Combine(SharedFiles.RepoRoot, "models", ShapesModel);
            return File.Exists(Path.Combine(dir, "model.json")) ? dir : null;
        }
    }

    public static async Task<PageServer> StartAsync(string shapesModelDir)
    {
        var models = new TempDir();
        try
        {
            CopyFolder(shapesModelDir, models.File(ShapesModel));
            TinyModel.Write(models.File(RandomModel));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RegionChat:ModelsPath"] = models.Path,
                ["RegionChat:DefaultModel"] = ShapesModel,
                ["RegionChat:Threads"] = "1",
                ["RegionChat:ContextSize"] = "4096",
                ["RegionChat:ParallelSequences"] = "2",
                ["RegionChat:MaxTokensLimit"] = "4096",
                ["RegionChat:GrpcUrl"] = "", // a browser needs only the HTTP/1.1 listener
                ["RegionChat:HttpUrl"] = "http://127.0.0.1:0",
                ["Logging:LogLevel:Default"] = "Warning",
            });
            RegionChatServer.AddServices(builder);
            var app = builder.Build();
            RegionChatServer.MapEndpoints(app);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var server = new PageServer(app, models, new Uri(address + "/"));
            // Listing the models loads them all: do it once here rather than inside the first test's page load.
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            await http.GetStringAsync(new Uri(server.Address, "v1/models"));
            return server;
        }
        catch
        {
            models.Dispose();
            throw;
        }
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        models.Dispose();
    }
}
