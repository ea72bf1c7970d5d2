using System.CommandLine;
using RegionChat.Cli.Pull;
using RegionChat.Cli.Pull.Internal;
using RegionChat.Inference;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat pull MODEL [--models DIR] [--mirror BASE_URL] [--allow-unverified]`: downloads a model's files (the
/// manifest's download list) into DIR/&lt;id&gt;/, resumably, each checked against its SHA-256 before it is installed.
/// MODEL is a model.json path or the id of a folder under deploy/. Progress on stderr; the installed folder on stdout.
/// </summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A manifest (deploy/alphaclip-llava-1.5-7b/model.json) or the id of a " +
            "folder under deploy/." };
        var models = new Option<string>("--models") { Description = "The models folder the model is installed into, as DIR/<id>/.",
            DefaultValueFactory = _ => "models" };
        var mirror = new Option<string?>("--mirror") { Description = "Fetch every file from this base URL instead: its scheme and host (and path prefix) " +
            "replace the manifest URL's." };
        var allowUnverified = new Option<bool>("--allow-unverified") { Description = "Install files the manifest has no SHA-256 for (their hash is printed)." };
        var retries = new Option<int>("--retries") { Description = "Tries again of a file whose host or connection failed (408, 429, 5xx, a broken " +
            "or stalled transfer), resuming where it stopped, after 1, 2, 4, … s or the host's Retry-After.", DefaultValueFactory = _ => 4 };
        var command = new Command("pull", "Download a model's weights (resumable, SHA-256 verified) into models/<id>/, ready for the server and caption. " +
            "HF_TOKEN is sent to Hugging Face (gated or private repositories); HF_ENDPOINT fetches Hugging Face's files from a mirror.")
            { model, models, mirror, allowUnverified, retries };
        command.SetAction(async (parse, cancellation) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                string manifest = FindManifest(parse.GetValue(model)!);
                var options = new PullOptions
                {
                    ModelsRoot = parse.GetValue(models)!,
                    Mirror = parse.GetValue(mirror) is { } m ? MirrorUrl.Parse(m) : null,
                    AllowUnverified = parse.GetValue(allowUnverified),
                    Retries = parse.GetValue(retries) is >= 0 and var tries ? tries
                        : throw new ArgumentException($"--retries must be >= 0, got {parse.GetValue(retries)}"),
                    HfToken = Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } hfToken ? hfToken
                        : Environment.GetEnvironmentVariable("HUGGING_FACE_HUB_TOKEN"),
                    HfEndpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } endpoint
                        ? MirrorUrl.Parse(endpoint, "HF_ENDPOINT") : null,
                };
                using var http = CreateHttpClient();
                bool interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
                var result = await new ModelPuller(http, options, stderr, interactive).PullAsync(manifest, cancellation);
                stdout.WriteLine($"installed {result.Id} in {result.Folder} ({result.Files} files, {result.Downloaded} downloaded now)");
                return 0;
            }
            catch (ArgumentException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            catch (Exception e) when (e is PullException or ModelManifestException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                stderr.WriteLine("pull: interrupted; what was downloaded is kept in *.partial files: rerun the same command to resume");
                return 130;
            }
        });
        return command;
    }

    /// <summary>A model.json path, a folder holding one, or deploy/&lt;id&gt;/model.json.</summary>
    internal static string FindManifest(string model)
    {
        if (File.Exists(model)) return model;
        if (File.Exists(Path.Combine(model, ModelManifest.FileName))) return Path.Combine(model, ModelManifest.FileName);
        string deployed = Path.Combine("deploy", model, ModelManifest.FileName);
        if (File.Exists(deployed)) return deployed;
        string[] known = Directory.Exists("deploy")
            ? [.. Directory.GetDirectories("deploy").Where(d => File.Exists(Path.Combine(d, ModelManifest.FileName))).Select(d =>
                Path.GetFileName(d)).Order(StringComparer.Ordinal)]
            : [];
        throw new ArgumentException($"MODEL '{model}' is neither a model.json nor a model id under deploy/ " +
            $"(here: {(known.Length > 0 ? string.Join(", ", known) : "no deploy/ folder")})");
    }

    static HttpClient CreateHttpClient() => new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = Timeout.InfiniteTimeSpan, // a 4 GB file takes long; ResumableDownload stops a stalled one instead
        DefaultRequestHeaders = { { "User-Agent", "regionchat-pull" } },
    };
}
