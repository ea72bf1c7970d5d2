using RegionChat.Cli.Pull.Internal;
using RegionChat.Inference;

namespace RegionChat.Cli.Pull;

/// <summary>
/// `regionchat pull`: installs the model a manifest describes into <c>models/&lt;id&gt;/</c>. Each file of its download
/// list is fetched into <c>&lt;file&gt;.partial</c> beside its place (resumable), checked against the manifest's size
/// and SHA-256, and only then moved into place; the manifest is written last, so the server never sees a half-pulled
/// model. Files already in place that pass the check are kept.
/// </summary>
internal sealed class ModelPuller(HttpClient http, PullOptions options, TextWriter log, bool interactive)
{
    /// <summary>Pulls the model of <paramref name="manifestPath"/>.</summary>
    public async Task<PullResult> PullAsync(string manifestPath, CancellationToken cancellation)
    {
        var manifest = ModelManifest.ReadForDownload(manifestPath);
        var files = manifest.Download!;
        var unverified = files.Where(f => f.Sha256 == null).ToList();
        if (unverified.Count > 0 && !options.AllowUnverified)
            throw new PullException(
                $"{manifest.Id}: the manifest has no SHA-256 for {string.Join(", ", unverified.Select(f => $"{f.Path} ({f.Note})"))}; " +
                "pull installs only files it can verify: rerun with --allow-unverified to install them unchecked (their SHA-256 is printed)");

        string target = Path.GetFullPath(Path.Combine(options.ModelsRoot, manifest.Id));
        Directory.CreateDirectory(target);
        using var pullLock = Lock(target, manifest.Id);
        CheckFreeSpace(manifest.Id, target, files);
        var download = new ResumableDownload(http, log, interactive, options.IdleTimeout, TokenFor);
        int fetched = 0;
        foreach (var file in files)
        {
            string final = Path.Combine(target, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(final)!);
            if (File.Exists(final))
            {
                var (problem, _) = await FileCheck.CheckAsync(final, file.Bytes, file.Sha256, hashAlways: false, cancellation);
                if (problem == null)
                {
                    log.WriteLine($"{file.Path}: already present{(file.Sha256 != null ? " and verified" : " (unverified)")}");
                    continue;
                }
                // Replaced by one rename once the new one is verified: a server started meanwhile still finds a file.
                log.WriteLine($"{file.Path}: present but {problem}: downloading it again");
            }

            var url = UrlOf(file.Url);
            string partial = final + ".partial";
            log.WriteLine($"{file.Path}: fetching {url}");
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    await download.RunAsync(file.Path, url, partial, file.Bytes, file.Sha256 != null, cancellation);
                    break;
                }
                catch (PullException e) when (e.Transient && attempt <= options.Retries)
                {
                    var wait = e.RetryAfter is { } asked ? TimeSpan.FromSeconds(Math.Min(asked.TotalSeconds, 300))
                                                         : TimeSpan.FromSeconds(Math.Min(30, 1 << (attempt - 1)));
                    log.WriteLine($"{e.Message.Replace("; rerun pull to resume", "", StringComparison.Ordinal)}: " +
                                  $"trying again in {wait.TotalSeconds:0.#} s ({attempt} of {options.Retries})");
                    await Task.Delay(wait, cancellation);
                }
            }

            var (wrong, sha256) = await FileCheck.CheckAsync(partial, file.Bytes, file.Sha256, hashAlways: true, cancellation);
            if (wrong != null)
            {
                ResumableDownload.Discard(partial); // a complete but wrong download is no base for a resume
                throw new PullException($"{file.Path}: the download {wrong}; nothing installed (the partial download was deleted)");
            }
            File.Move(partial, final, overwrite: true);
            File.Delete(ResumableDownload.ValidatorPath(partial));
            fetched++;
            log.WriteLine(file.Sha256 != null
                ? $"{file.Path}: verified (SHA-256 {sha256})"
                : $"{file.Path}: installed UNVERIFIED (--allow-unverified); its SHA-256 is {sha256}");
        }

        InstallManifest(manifestPath, target);
        ModelManifest.Load(target); // what the server and `caption` will do with the folder
        log.Flush();
        return new PullResult(manifest.Id, target, files.Count, fetched);
    }

    /// <summary>Where a manifest URL is fetched from: --mirror for every URL, HF_ENDPOINT for Hugging Face's.</summary>
    Uri UrlOf(string manifestUrl)
    {
        var url = new Uri(manifestUrl);
        if (options.Mirror is { } mirror) return MirrorUrl.Apply(url, mirror);
        if (options.HfEndpoint is { } hf && IsHuggingFace(url)) return MirrorUrl.Apply(url, hf);
        return url;
    }

    static bool IsHuggingFace(Uri url) => url.Host is "huggingface.co" || url.Host.EndsWith(".huggingface.co", StringComparison.Ordinal);

    /// <summary>The token for a request to the Hugging Face host (HF_ENDPOINT's when set), over https or to loopback.</summary>
    string? TokenFor(Uri url)
    {
        if (options.HfToken is not { Length: > 0 } token) return null;
        bool hub = options.HfEndpoint is { } hf ? string.Equals(url.Host, hf.Host, StringComparison.OrdinalIgnoreCase) && url.Port == hf.Port
                                                : IsHuggingFace(url);
        return hub && (url.Scheme == Uri.UriSchemeHttps || url.IsLoopback) ? token : null;
    }

    /// <summary>Stops at once when the files still to fetch (by the manifest's sizes, less what partial downloads hold)
    /// do not fit the free space: a pull of gigabytes would otherwise fail near its end.</summary>
    static void CheckFreeSpace(string id, string target, IReadOnlyList<ModelManifest.DownloadFile> files)
    {
        long needed = 0;
        foreach (var file in files)
        {
            string final = Path.Combine(target, file.Path);
            if (file.Bytes is not { } bytes || File.Exists(final)) continue;
            string partial = final + ".partial";
            needed += Math.Max(0, bytes - (File.Exists(partial) ? new FileInfo(partial).Length : 0));
        }
        long free = new DriveInfo(target).AvailableFreeSpace;
        if (needed > free)
            throw new PullException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{id}: the files still to fetch need {needed:N0} bytes but {target} has {free:N0} free; {FreeSpaceHint}"));
    }

    const string FreeSpaceHint = "free space (or pull into another --models folder) and rerun";

    /// <summary>One pull of a model at a time: a second one would write the same partial files.</summary>
    static FileStream Lock(string target, string id)
    {
        try
        {
            return new FileStream(Path.Combine(target, ".pull.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1,
                FileOptions.DeleteOnClose);
        }
        catch (IOException) { throw new PullException($"another pull of {id} into {target} is running; wait for it, or stop it"); }
    }

    /// <summary>The installed model: its id and folder, how many files it has and how many this run downloaded.</summary>
    public sealed record PullResult(string Id, string Folder, int Files, int Downloaded);

    static void InstallManifest(string manifestPath, string target)
    {
        string source = Path.GetFullPath(manifestPath);
        string destination = Path.Combine(target, ModelManifest.FileName);
        if (string.Equals(source, destination, StringComparison.Ordinal)) return; // pulling a manifest in place
        File.Copy(source, destination + ".partial", overwrite: true);
        File.Move(destination + ".partial", destination, overwrite: true);
    }
}
