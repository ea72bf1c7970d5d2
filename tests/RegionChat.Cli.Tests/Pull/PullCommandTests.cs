using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using RegionChat.Cli.Pull;
using RegionChat.Inference;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.Pull;

/// <summary>`regionchat pull` against a real HTTP server on loopback (Kestrel), real files on disk.</summary>
public class PullCommandTests
{
    const string Weights = "weights.bin";

    /// <summary>Writes deploy/&lt;id&gt;/model.json naming <paramref name="files"/> (vision weights = the first, llm.gguf =
    /// the last) with a download list pointing at <paramref name="urlOf"/>; returns the manifest path.</summary>
    static string WriteManifest(TempDir t, string id, IReadOnlyDictionary<string, byte[]> files, Func<string, string> urlOf,
                                Func<string, string?>? sha256Of = null, bool withBytes = true)
    {
        var download = new JsonArray();
        foreach (var (path, data) in files)
        {
            string? sha = sha256Of != null ? sha256Of(path) : Convert.ToHexStringLower(SHA256.HashData(data));
            var entry = new JsonObject { ["path"] = path, ["url"] = urlOf(path), ["sha256"] = sha, ["bytes"] = withBytes ? data.Length : null };
            if (sha == null) entry["note"] = "test: no published hash";
            download.Add(entry);
        }
        var names = files.Keys.ToList();
        var manifest = new JsonObject
        {
            ["description"] = "pull test",
            ["vision"] = new JsonObject { ["weights"] = names[0] },
            ["projector"] = new JsonObject { ["weights"] = names[0] },
            ["llm"] = new JsonObject { ["gguf"] = names[^1] },
            ["download"] = download,
        };
        string dir = Directory.CreateDirectory(Path.Combine(t.Path, "deploy", id)).FullName;
        string manifestPath = Path.Combine(dir, "model.json");
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        return manifestPath;
    }

    static byte[] RandomBytes(int n, int seed)
    {
        var data = new byte[n];
        new Random(seed).NextBytes(data);
        return data;
    }

    static Dictionary<string, byte[]> TwoFiles() => new() { [Weights] = RandomBytes(3_000_000, 1), ["llm.gguf"] = RandomBytes(200_000, 2) };

    static void AssertNothingInstalled(string modelDir, string file)
    {
        Assert.False(File.Exists(Path.Combine(modelDir, file)), $"{file} was installed");
        Assert.False(File.Exists(Path.Combine(modelDir, "model.json")), "model.json was installed");
    }

    [Fact]
    public async Task CleanPullInstallsTheVerifiedFilesAndAManifestTheModelLoaderAccepts()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        // A real (tiny, random) model: the pulled folder must load as the server and `caption` load it.
        string source = TinyModel.Write(t.File("source"));
        var files = new[] { "vision.safetensors", "vision.json", "projector.safetensors", "llm.gguf" }
            .ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(source, f)));
        foreach (var (name, data) in files) server.Serve("/tiny/" + name, data);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "model.json")))!.AsObject();
        manifest["download"] = new JsonArray([.. files.Select(f => (JsonNode)new JsonObject
        {
            ["path"] = f.Key, ["url"] = server.Url("/tiny/" + f.Key),
            ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(f.Value)), ["bytes"] = f.Value.Length,
        })]);
        string manifestPath = Path.Combine(Directory.CreateDirectory(t.File("deploy/tiny")).FullName, "model.json");
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        var (exit, stdout, stderr) = await CliRunner.RunAsync("pull", manifestPath, "--models", t.File("models"));

        Assert.True(exit == 0, stderr);
        string installed = t.File("models/tiny");
        Assert.Contains($"installed tiny in {installed} (4 files, 4 downloaded now)", stdout);
        foreach (var (name, data) in files) Assert.Equal(data, File.ReadAllBytes(Path.Combine(installed, name)));
        Assert.Empty(Directory.GetFiles(installed, "*.partial"));
        Assert.Equal(File.ReadAllText(manifestPath), File.ReadAllText(Path.Combine(installed, "model.json")));
        Assert.All(server.Requests, r => Assert.Null(r.Range));
        Assert.Equal(4, server.Requests.Count);
        Assert.Contains("vision.safetensors: verified (SHA-256 " + Convert.ToHexStringLower(SHA256.HashData(files["vision.safetensors"])), stderr);
        using var model = RegionChatModel.Load(installed, new RegionChatModelOptions { ContextSize = 512, Threads = 1 });
        Assert.Equal("tiny", model.Id);
    }

    [Fact]
    public async Task AnInterruptedPullKeepsWhatArrivedAndTheRerunAsksOnlyForTheRest()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.CutOnce, cutAfter: 1_000_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));
        string modelDir = t.File("models/m");

        var first = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--retries", "0");
        Assert.Equal(1, first.Exit);
        Assert.Contains($"error: {Weights}: the download broke after", first.Err);
        Assert.Contains("rerun pull to resume", first.Err);
        AssertNothingInstalled(modelDir, Weights);
        long kept = new FileInfo(Path.Combine(modelDir, Weights + ".partial")).Length;
        Assert.InRange(kept, 1, 1_000_000);

        var second = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.True(second.Exit == 0, second.Err);
        var asked = server.RequestsFor("/m/" + Weights);
        Assert.Equal(2, asked.Count);
        Assert.Null(asked[0].Range);
        Assert.Equal($"bytes={kept}-", asked[1].Range);
        Assert.Equal(206, asked[1].Status);
        Assert.Equal(files[Weights].Length - kept, asked[1].BytesSent);
        Assert.Equal(files[Weights], File.ReadAllBytes(Path.Combine(modelDir, Weights)));
        Assert.True(File.Exists(Path.Combine(modelDir, "model.json")));
        Assert.Contains("(resumed at ", second.Err); // stderr is not a terminal here: plain progress lines
    }

    [Fact]
    public async Task ABrokenOrRefusedTransferIsTriedAgainInTheSameRunResumingWhereItStopped()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.CutOnce, cutAfter: 1_000_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"], FileFault.UnavailableOnce);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));

        var run = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.True(run.Exit == 0, run.Err);
        var weights = server.RequestsFor("/m/" + Weights);
        Assert.Equal(2, weights.Count);
        Assert.StartsWith("bytes=", weights[1].Range);   // resumed, not started over
        Assert.Equal([503, 200], server.RequestsFor("/m/llm.gguf").Select(r => r.Status));
        Assert.Contains("llm.gguf: " + server.Url("/m/llm.gguf") + " answered 503 Service Unavailable: trying again in 1 s (1 of 4)", run.Err);
        Assert.Contains("trying again in 1 s (1 of 4)", run.Err.Split('\n').Single(l => l.StartsWith($"{Weights}: the download broke", StringComparison.Ordinal)));
        foreach (var (name, data) in files) Assert.Equal(data, File.ReadAllBytes(t.File($"models/m/{name}")));
    }

    [Fact]
    public async Task AMissingFileIsNotTriedAgainAndSaysWhy()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));

        var run = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.Equal(1, run.Exit);
        Assert.Single(server.RequestsFor("/m/llm.gguf"));
        Assert.Contains("answered 404 Not Found: the file or revision is not there", run.Err);
    }

    [Fact]
    public async Task TheHuggingFaceTokenGoesToTheHuggingFaceEndpointOnlyAndASecondPullWaitsItsTurn()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        const string revision = "0123456789abcdef0123456789abcdef01234567";
        server.Serve($"/hf/org/repo/resolve/{revision}/{Weights}", files[Weights]);
        server.Serve("/other/llm.gguf", files["llm.gguf"]);
        // The Hugging Face file through HF_ENDPOINT (127.0.0.1), the other from "localhost": the same server, another host.
        string other = new UriBuilder(server.Address) { Host = "localhost", Path = "/other/llm.gguf" }.Uri.ToString();
        string manifest = WriteManifest(t, "m", files, f => f == Weights ? $"https://huggingface.co/org/repo/resolve/{revision}/{f}" : other);
        using var http = new HttpClient();
        var options = new PullOptions { ModelsRoot = t.File("models"), HfToken = "hf_secret", HfEndpoint = new Uri(server.Url("/hf")) };

        // Another pull of the model holds its lock: this one stops at once, touching nothing.
        Directory.CreateDirectory(t.File("models/m"));
        using (new FileStream(t.File("models/m/.pull.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var busy = await Assert.ThrowsAsync<PullException>(() => new ModelPuller(http, options, new StringWriter(), false).PullAsync(manifest, default));
            Assert.Contains("another pull of m", busy.Message);
            Assert.Empty(server.Requests);
        }

        await new ModelPuller(http, options, new StringWriter(), false).PullAsync(manifest, CancellationToken.None);
        Assert.Equal("Bearer hf_secret", server.RequestsFor($"/hf/org/repo/resolve/{revision}/{Weights}").Single().Authorization);
        Assert.Null(server.RequestsFor("/other/llm.gguf").Single().Authorization);
        foreach (var (name, data) in files) Assert.Equal(data, File.ReadAllBytes(t.File($"models/m/{name}")));
    }

    [Fact]
    public async Task APullThatCannotFitTheDiskStopsBeforeFetchingAnything()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        foreach (var (name, data) in files) server.Serve("/m/" + name, data);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));
        // The manifest says the weights are a petabyte: no disk here has that free.
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifest))!;
        node["download"]![0]!["bytes"] = 1L << 50;
        File.WriteAllText(manifest, node.ToJsonString());

        var run = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.Equal(1, run.Exit);
        Assert.Contains("m: the files still to fetch need 1,125,899,907,042,624", run.Err);
        Assert.Contains("free; free space (or pull into another --models folder) and rerun", run.Err);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task AStalledDownloadIsAbandonedAfterTheIdleTimeoutKeepingWhatArrived()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.StallOnce, cutAfter: 500_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));
        using var http = new HttpClient();
        var log = new StringWriter();
        var puller = new ModelPuller(http, new PullOptions { ModelsRoot = t.File("models"), IdleTimeout = TimeSpan.FromSeconds(1), Retries = 0 },
            log, interactive: false);

        var e = await Assert.ThrowsAsync<PullException>(() => puller.PullAsync(manifest, CancellationToken.None));
        Assert.Contains($"{Weights}: the download broke after ", e.Message);
        Assert.Contains("(no data for 1 s)", e.Message);
        long kept = new FileInfo(t.File($"models/m/{Weights}.partial")).Length;
        Assert.InRange(kept, 1, 500_000);

        await puller.PullAsync(manifest, CancellationToken.None);
        Assert.Equal($"bytes={kept}-", server.RequestsFor("/m/" + Weights)[^1].Range);
        Assert.Equal(files[Weights], File.ReadAllBytes(t.File($"models/m/{Weights}")));
    }

    [Fact]
    public async Task AServerThatIgnoresRangeMakesTheRerunStartOver()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.CutOnce | FileFault.IgnoreRange, cutAfter: 1_000_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));

        Assert.Equal(1, (await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--retries", "0")).Exit);
        var second = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));

        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains($"{Weights}: the server ignored the range request (200, not 206): starting over", second.Err);
        var asked = server.RequestsFor("/m/" + Weights);
        Assert.StartsWith("bytes=", asked[1].Range);
        Assert.Equal(200, asked[1].Status);
        Assert.Equal(files[Weights], File.ReadAllBytes(t.File($"models/m/{Weights}")));
    }

    [Theory]
    [InlineData(FileFault.None, "the file on the server changed since the partial download (If-Range ")]
    [InlineData(FileFault.IgnoreIfRange, "changed since the partial download (")]
    public async Task AFileWithoutAHashThatChangedOnTheServerIsFetchedWholeNotSpliced(FileFault newFault, string expected)
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.CutOnce, cutAfter: 1_000_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f), f => f == Weights ? null : Convert.ToHexStringLower(SHA256.HashData(files[f])));
        Assert.Equal(1, (await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--allow-unverified", "--retries", "0")).Exit);

        var updated = RandomBytes(files[Weights].Length, 3); // a new upload of the same size
        server.Serve("/m/" + Weights, updated, newFault);
        var second = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--allow-unverified");

        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains(expected, second.Err);
        var asked = server.RequestsFor("/m/" + Weights);
        Assert.StartsWith("\"", asked[1].IfRange);
        Assert.Equal(updated, File.ReadAllBytes(t.File($"models/m/{Weights}")));
        Assert.Empty(Directory.GetFiles(t.File("models/m"), "*.etag"));
    }

    [Fact]
    public async Task APartialFileWithoutAHashOrAValidatorStartsOver()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], FileFault.CutOnce | FileFault.NoValidator, cutAfter: 1_000_000);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f), f => f == Weights ? null : Convert.ToHexStringLower(SHA256.HashData(files[f])));

        var run = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--allow-unverified");

        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains($"{Weights}: the partial download cannot be checked against the server's file", run.Err);
        var asked = server.RequestsFor("/m/" + Weights);
        Assert.Equal([null, null], asked.Select(r => r.Range));
        Assert.Equal(files[Weights], File.ReadAllBytes(t.File($"models/m/{Weights}")));
    }

    [Theory]
    [InlineData(FileFault.Corrupt, true, "the download has SHA-256 ")]
    [InlineData(FileFault.Corrupt, false, "the download has SHA-256 ")]
    [InlineData(FileFault.HtmlBody, false, "the download is an HTML page, not the file")]
    [InlineData(FileFault.HtmlPage, true, "sent an HTML page (Content-Type text/html), not the file")]
    [InlineData(FileFault.Short, true, "has 2,999,900 bytes, the manifest says 3,000,000")]
    [InlineData(FileFault.Short, false, "the download has SHA-256 ")]
    public async Task AWrongFileIsRefusedWithNothingInstalled(FileFault fault, bool withBytes, string expected)
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        server.Serve("/m/" + Weights, files[Weights], fault);
        server.Serve("/m/llm.gguf", files["llm.gguf"]);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f), withBytes: withBytes);

        var (exit, _, stderr) = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));

        Assert.Equal(1, exit);
        Assert.Contains($"error: {Weights}: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.Contains("nothing installed", stderr);
        string modelDir = t.File("models/m");
        AssertNothingInstalled(modelDir, Weights);
        if (fault != FileFault.HtmlPage) Assert.False(File.Exists(Path.Combine(modelDir, Weights + ".partial")), "a wrong download was kept");
    }

    [Fact]
    public async Task MirrorReplacesSchemeAndHostOfEveryUrl()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        const string revision = "0123456789abcdef0123456789abcdef01234567";
        foreach (var (name, data) in files) server.Serve($"/hf/org/repo/resolve/{revision}/{name}", data);
        string manifest = WriteManifest(t, "m", files, f => $"https://huggingface.co/org/repo/resolve/{revision}/{f}");

        var (exit, _, stderr) = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--mirror", server.Url("/hf"));

        Assert.True(exit == 0, stderr);
        Assert.Equal([$"/hf/org/repo/resolve/{revision}/llm.gguf", $"/hf/org/repo/resolve/{revision}/{Weights}"],
            server.Requests.Select(r => r.Path).Order(StringComparer.Ordinal));
        foreach (var (name, data) in files) Assert.Equal(data, File.ReadAllBytes(t.File($"models/m/{name}")));
    }

    [Fact]
    public async Task FilesAlreadyPresentAndVerifiedAreSkippedAndADamagedOneIsFetchedAgain()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        foreach (var (name, data) in files) server.Serve("/m/" + name, data);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f));
        Assert.Equal(0, (await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"))).Exit);
        Assert.Equal(2, server.Requests.Count);

        var again = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("(2 files, 0 downloaded now)", again.Out);
        Assert.Contains($"{Weights}: already present and verified", again.Err);
        Assert.Equal(2, server.Requests.Count);

        var damaged = File.ReadAllBytes(t.File($"models/m/{Weights}"));
        damaged[10] ^= 1;
        File.WriteAllBytes(t.File($"models/m/{Weights}"), damaged);
        var repaired = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.True(repaired.Exit == 0, repaired.Err);
        Assert.Contains($"{Weights}: present but has SHA-256 ", repaired.Err);
        Assert.Equal(3, server.Requests.Count);
        Assert.Equal("/m/" + Weights, server.Requests[^1].Path);
        Assert.Equal(files[Weights], File.ReadAllBytes(t.File($"models/m/{Weights}")));
    }

    [Fact]
    public async Task AFileWithoutAHashIsRefusedUnlessAllowUnverified()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        foreach (var (name, data) in files) server.Serve("/m/" + name, data);
        string manifest = WriteManifest(t, "m", files, f => server.Url("/m/" + f), f => f == Weights ? null : Convert.ToHexStringLower(SHA256.HashData(files[f])));

        var refused = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"));
        Assert.Equal(1, refused.Exit);
        Assert.Contains($"the manifest has no SHA-256 for {Weights} (test: no published hash)", refused.Err);
        Assert.Contains("--allow-unverified", refused.Err);
        Assert.Empty(server.Requests); // refused before downloading anything
        AssertNothingInstalled(t.File("models/m"), Weights);

        var allowed = await CliRunner.RunAsync("pull", manifest, "--models", t.File("models"), "--allow-unverified");
        Assert.True(allowed.Exit == 0, allowed.Err);
        Assert.Contains($"{Weights}: installed UNVERIFIED (--allow-unverified); its SHA-256 is {Convert.ToHexStringLower(SHA256.HashData(files[Weights]))}", allowed.Err);
        Assert.Equal(files[Weights], File.ReadAllBytes(t.File($"models/m/{Weights}")));
    }

    [Fact]
    public async Task AModelIdNamesAManifestUnderDeployAndInstallsIntoModels()
    {
        using var t = new TempDir();
        await using var server = await ModelFileServer.StartAsync();
        var files = TwoFiles();
        foreach (var (name, data) in files) server.Serve("/m/" + name, data);
        WriteManifest(t, "m", files, f => server.Url("/m/" + f));

        // The id is looked up in ./deploy, so this runs the built CLI as a child process in the temp folder.
        var start = CliRunner.ChildProcessStart("pull", "m");
        start.WorkingDirectory = t.Path;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "regionchat pull did not finish");
        Assert.True(process.ExitCode == 0, await stderr);
        Assert.Contains($"installed m in {t.File("models/m")}", await stdout);
        Assert.NotNull(ModelManifest.Load(t.File("models/m")));

        var unknown = await CliRunner.RunAsync("pull", "no-such-model", "--models", t.File("models"));
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("MODEL 'no-such-model' is neither a model.json nor a model id under deploy/", unknown.Err);
    }
}
