using System.Text.Json;
using System.Text.RegularExpressions;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>Every deploy/k8s object validates against its schema, and the parts that make a fleet work point where they
/// must: probes at the gRPC health service, ingresses hashing on the session header, the batch Job indexed.</summary>
public sealed partial class KubernetesManifestTests(KubernetesManifests k8s) : IClassFixture<KubernetesManifests>
{
    const string Header = "$http_x_regionchat_session";

    [SkippableTheory]
    [InlineData("overlays/cpu")]
    [InlineData("overlays/gpu")]
    [InlineData("batch")]
    public async Task EachKustomizationRendersToValidObjects(string folder)
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var objects = await k8s.RenderAsync(folder);
        Assert.NotEmpty(objects);
        // Everything but the Namespace itself (cluster-scoped) lands in it.
        Assert.All(objects.Where(o => o.GetProperty("kind").GetString() != "Namespace"),
            o => Assert.Equal("regionchat", o.GetProperty("metadata").GetProperty("namespace").GetString()));
    }

    [SkippableFact]
    public async Task TheValidatorRefusesABrokenObject()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var check = await k8s.Validate("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  completionMode: Indexd\n" +
                                       "  template: {spec: {containers: [{name: c, image: i}], restartPolicy: Never}}\n");
        Assert.NotEqual(0, check.Exit);
        Assert.Contains("completionMode", check.Stderr);
        var unknown = await k8s.Validate("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
        Assert.NotEqual(0, unknown.Exit);
        Assert.Contains("no schema", unknown.Stderr);
    }

    [SkippableFact]
    public async Task TheServerIsProbedOnTheGrpcHealthServiceAndDrainsBeforeItStops()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var objects = await k8s.RenderAsync("overlays/cpu");
        var pod = Find(objects, "Deployment", "regionchat").GetProperty("spec").GetProperty("template").GetProperty("spec");
        var server = pod.GetProperty("containers")[0];
        int grpcPort = server.GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "grpc")
            .GetProperty("containerPort").GetInt32();
        foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
            Assert.Equal(grpcPort, server.GetProperty(probe).GetProperty("grpc").GetProperty("port").GetInt32());
        // Readiness follows the model (the named service); liveness only asks that the process answers.
        Assert.Equal("regionchat.v1.RegionChat", server.GetProperty("readinessProbe").GetProperty("grpc").GetProperty("service").GetString());
        Assert.Equal("regionchat.v1.RegionChat", server.GetProperty("startupProbe").GetProperty("grpc").GetProperty("service").GetString());

        // The server listens where the probes and the Service look.
        string settings = Find(objects, "ConfigMap", "regionchat-settings").GetProperty("data").GetProperty("appsettings.Production.json").GetString()!;
        var config = JsonDocument.Parse(settings).RootElement.GetProperty("RegionChat");
        Assert.EndsWith($":{grpcPort}", config.GetProperty("GrpcUrl").GetString());
        Assert.Contains(server.GetProperty("volumeMounts").EnumerateArray(), m => m.GetProperty("mountPath").GetString() == "/app/appsettings.Production.json");

        var preStop = server.GetProperty("lifecycle").GetProperty("preStop").GetProperty("exec").GetProperty("command");
        int preStopSeconds = int.Parse(preStop[preStop.GetArrayLength() - 1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        double drainSeconds = config.GetProperty("ShutdownDrainSeconds").GetDouble();
        Assert.True(drainSeconds >= 30, $"a drain of {drainSeconds} s lets few answers finish");
        Assert.True(pod.GetProperty("terminationGracePeriodSeconds").GetInt32() > preStopSeconds + drainSeconds,
            "the grace period must outlast the preStop wait and the server's drain");
        Assert.Equal("1", Find(objects, "PodDisruptionBudget", "regionchat").GetProperty("spec").GetProperty("maxUnavailable").ToString());
        Assert.Equal("kubernetes.io/hostname", pod.GetProperty("affinity").GetProperty("podAntiAffinity")
            .GetProperty("preferredDuringSchedulingIgnoredDuringExecution")[0].GetProperty("podAffinityTerm").GetProperty("topologyKey").GetString());
    }

    [SkippableFact]
    public async Task BothIngressesHashOnTheSessionHeader()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var ingresses = (await k8s.RenderAsync("overlays/cpu")).Where(o => o.GetProperty("kind").GetString() == "Ingress").ToList();
        Assert.Equal(2, ingresses.Count);
        var protocols = new List<string>();
        foreach (var ingress in ingresses)
        {
            var annotations = ingress.GetProperty("metadata").GetProperty("annotations");
            Assert.Equal(Header, annotations.GetProperty("nginx.ingress.kubernetes.io/upstream-hash-by").GetString());
            protocols.Add(annotations.GetProperty("nginx.ingress.kubernetes.io/backend-protocol").GetString()!);
        }
        Assert.Equal(["GRPC", "HTTP"], protocols.Order());
        // deploy/nginx/regionchat.conf (the local fleet) hashes on the same header.
        string conf = Path.Combine(KubernetesManifests.K8sFolder, "..", "nginx", "regionchat.conf");
        Assert.Contains("hash $http_x_regionchat_session consistent", File.ReadAllText(conf));
    }

    [SkippableFact]
    public async Task RedisNeverEvictsAndTheSharedImagesStayWellBelowItsMemory()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var objects = await k8s.RenderAsync("overlays/cpu");
        var args = Find(objects, "StatefulSet", "regionchat-redis").GetProperty("spec").GetProperty("template").GetProperty("spec")
            .GetProperty("containers")[0].GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToList();
        // An evicting Redis may drop a lease, or a session's turns but not its header.
        Assert.Equal("noeviction", args[args.IndexOf("--maxmemory-policy") + 1]);
        string maxMemory = args[args.IndexOf("--maxmemory") + 1];
        Assert.Matches("^[0-9]+gb$", maxMemory);
        long redisBytes = long.Parse(maxMemory[..^2], System.Globalization.CultureInfo.InvariantCulture) << 30;
        string settings = Find(objects, "ConfigMap", "regionchat-settings").GetProperty("data").GetProperty("appsettings.Production.json").GetString()!;
        long imageBytes = JsonDocument.Parse(settings).RootElement.GetProperty("RegionChat").GetProperty("SessionStore")
            .GetProperty("ImageBytes").GetInt64();
        Assert.True(imageBytes <= redisBytes / 2, $"shared images may take {imageBytes} bytes of Redis's {redisBytes}");
        // A client stream's body is all its items: the gRPC ingress must not cap it.
        var grpc = Find(objects, "Ingress", "regionchat-grpc").GetProperty("metadata").GetProperty("annotations");
        Assert.Equal("0", grpc.GetProperty("nginx.ingress.kubernetes.io/proxy-body-size").GetString());
    }

    [SkippableFact]
    public async Task AutoscalingWatchesTheQueueDepthTheServerExports()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var objects = await k8s.RenderAsync("overlays/cpu");
        var scaled = Find(objects, "ScaledObject", "regionchat").GetProperty("spec");
        Assert.Equal("regionchat", scaled.GetProperty("scaleTargetRef").GetProperty("name").GetString());
        string query = scaled.GetProperty("triggers")[0].GetProperty("metadata").GetProperty("query").GetString()!;
        Assert.Contains("regionchat_requests_active", query);
        // The metric is the Prometheus name of the instrument the core declares.
        string metrics = File.ReadAllText(Path.Combine(TestSupport.SharedFiles.RepoRoot, "src", "RegionChat.Inference", "RegionChatMetrics.cs"));
        Assert.Contains("\"regionchat.requests.active\"", metrics);
        var monitor = Find(objects, "ServiceMonitor", "regionchat").GetProperty("spec").GetProperty("endpoints")[0];
        Assert.Equal("/metrics", monitor.GetProperty("path").GetString());
    }

    [SkippableFact]
    public async Task TheBatchJobIsIndexedWithOneShardPerCompletion()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var job = Find(await k8s.RenderAsync("batch"), "Job", "regionchat-caption-batch").GetProperty("spec");
        Assert.Equal("Indexed", job.GetProperty("completionMode").GetString());
        int completions = job.GetProperty("completions").GetInt32();
        string args = string.Join(' ', job.GetProperty("template").GetProperty("spec").GetProperty("containers")[0]
            .GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        var shard = ShardArgument().Match(args);
        Assert.True(shard.Success, args);
        Assert.Equal(completions, int.Parse(shard.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("--output /job/shard-${JOB_COMPLETION_INDEX}.jsonl", args);
    }

    [SkippableTheory]
    [InlineData(0, 0)]   // every item captioned
    [InlineData(1, 0)]   // every item has a record, some error records: the shard is done
    [InlineData(2, 2)]   // refused as given: the Job fails at once (podFailurePolicy)
    [InlineData(3, 3)]   // items left: the pod fails and a new one resumes the shard
    [InlineData(4, 4)]   // the volume is full: the Job fails at once, a new pod would fail alike
    public async Task TheBatchPodSucceedsOnceEveryItemHasARecordAndFailsTheJobOnlyWhenNoRetryHelps(int jobExit, int podExit)
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var job = Find(await k8s.RenderAsync("batch"), "Job", "regionchat-caption-batch").GetProperty("spec");
        var container = job.GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        Assert.Equal(["/bin/sh", "-c"], container.GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        var rule = job.GetProperty("podFailurePolicy").GetProperty("rules")[0];
        Assert.Equal("FailJob", rule.GetProperty("action").GetString());
        Assert.Equal([2, 4], rule.GetProperty("onExitCodes").GetProperty("values").EnumerateArray().Select(v => v.GetInt32()));

        // The pod's script as the container runs it, with a stand-in for regionchat that exits as caption-batch would.
        using var temp = new TestSupport.TempDir();
        string stub = temp.File("regionchat");
        File.WriteAllText(stub, $"#!/bin/sh\nexit {jobExit}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string script = container.GetProperty("args")[0].GetString()!.Replace("/app/regionchat", stub, StringComparison.Ordinal);
        var run = await ToolProcess.RunAsync("/bin/sh", ["-c", script], temp.Path);
        Assert.Equal(podExit, run.Exit);
    }

    [SkippableFact]
    public async Task TheBatchPodPassesSigtermOnSoTheJobStopsCleanly()
    {
        Skip.If(k8s.Missing != null, k8s.Missing);
        var job = Find(await k8s.RenderAsync("batch"), "Job", "regionchat-caption-batch").GetProperty("spec");
        string args = job.GetProperty("template").GetProperty("spec").GetProperty("containers")[0].GetProperty("args")[0].GetString()!;
        // A stand-in for caption-batch that runs until SIGTERM and then stops as it does (exit 3: items left).
        using var temp = new TestSupport.TempDir();
        string stub = temp.File("regionchat");
        File.WriteAllText(stub, "#!/bin/sh\ntrap 'exit 3' TERM\ntouch \"$0.started\"\nwhile :; do sleep 0.05; done\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", args.Replace("/app/regionchat", stub, StringComparison.Ordinal) } };
        using var pod = System.Diagnostics.Process.Start(start)!;
        for (int i = 0; i < 200 && !File.Exists(stub + ".started"); i++) await Task.Delay(25);
        Assert.True(File.Exists(stub + ".started"), "the job never started");
        Assert.Equal(0, SendSignal(pod.Id, 15));   // what the kubelet sends the container's first process
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await pod.WaitForExitAsync(timeout.Token);
        Assert.Equal(3, pod.ExitCode);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    static JsonElement Find(IEnumerable<JsonElement> objects, string kind, string name) =>
        objects.Single(o => o.GetProperty("kind").GetString() == kind && o.GetProperty("metadata").GetProperty("name").GetString() == name);

    [GeneratedRegex(@"--shard \$\{JOB_COMPLETION_INDEX\}/(\d+)")]
    private static partial Regex ShardArgument();
}
