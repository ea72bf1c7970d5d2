using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>deploy/k8s rendered with `kubectl kustomize` and validated by deploy/k8s/validate (kubernetes-models, KEDA
/// and Prometheus-operator schemas, installed with npm ci from the committed lock file into a temporary folder).</summary>
public sealed class KubernetesManifests : IAsyncLifetime
{
    readonly TempDir temp = new();
    readonly Dictionary<string, JsonElement[]> rendered = [];

    public static readonly string K8sFolder = Path.Combine(SharedFiles.RepoRoot, "deploy", "k8s");

    /// <summary>Why the manifests cannot be checked here, naming the missing tool; null when they can.</summary>
    public string? Missing { get; private set; }

    public async Task InitializeAsync()
    {
        Missing = ToolProcess.FindOnPath("kubectl") == null ? "kubectl is not installed: rendering the kustomizations needs `kubectl kustomize`"
            : ToolProcess.FindOnPath("npm") == null ? "npm is not installed (apt-get install npm): the schema validation needs it"
            : null;
        if (Missing != null) return;
        foreach (var f in new[] { "package.json", "package-lock.json", "validate.mjs" })
            File.Copy(Path.Combine(K8sFolder, "validate", f), temp.File(f));
        var install = await ToolProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], temp.Path);
        if (install.Exit != 0) throw new InvalidOperationException($"npm ci exit {install.Exit}:\n{install.Output}");
    }

    /// <summary>The kustomization in <paramref name="folder"/> (relative to deploy/k8s) as validated objects.</summary>
    public async Task<JsonElement[]> RenderAsync(string folder)
    {
        if (rendered.TryGetValue(folder, out var done)) return done;
        var yaml = await ToolProcess.RunAsync("kubectl", ["kustomize", Path.Combine(K8sFolder, folder)], temp.Path);
        Assert.True(yaml.Exit == 0, $"kubectl kustomize {folder}: exit {yaml.Exit}\n{yaml.Stderr}");
        var check = await Validate(yaml.Stdout);
        Assert.True(check.Exit == 0, $"{folder}: {check.Stderr}");
        return rendered[folder] = [.. JsonDocument.Parse(check.Stdout).RootElement.EnumerateArray()];
    }

    public Task<ToolProcess.Result> Validate(string yaml) => ToolProcess.RunAsync("node", ["validate.mjs"], temp.Path, stdin: yaml);

    public Task DisposeAsync()
    {
        temp.Dispose();
        return Task.CompletedTask;
    }
}
