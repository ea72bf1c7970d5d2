using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.Server.BrowserTests;

/// <summary>
/// A real RegionChat server (the shared <see cref="ServerHost"/>) whose HTTP/1.1 listener serves the page. It serves two
/// models from a temporary models folder: a copy of the committed <c>models/shapes-tiny</c> (the default, which knows the
/// shapes world) and "tiny", a random model whose answers run on to max_tokens (long enough to be stopped mid-answer).
/// </summary>
public sealed class PageServer : IAsyncDisposable
{
    public const string ShapesModel = "shapes-tiny", RandomModel = "tiny";

    readonly ServerHost host;
    readonly TempDir models;

    PageServer(ServerHost host, TempDir models)
    {
        this.host = host;
        this.models = models;
    }

    /// <summary>The page's URL ("http://127.0.0.1:PORT/").</summary>
    public Uri Address => host.HttpAddress;

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
            var host = await ServerHost.StartAsync(new Dictionary<string, string?>
            {
                ["RegionChat:ModelsPath"] = models.Path,
                ["RegionChat:DefaultModel"] = ShapesModel,
                ["RegionChat:ParallelSequences"] = "2",
                ["RegionChat:MaxTokensLimit"] = "4096",
            });
            var server = new PageServer(host, models);
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
        await host.DisposeAsync();
        models.Dispose();
    }
}
