using System.Diagnostics;
using System.Text.Json;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests.Deploy;

/// <summary>The GPU build switch: -p:Accelerator=cuda12 swaps TorchSharp-cpu for TorchSharp-cuda-linux and
/// LLamaSharp.Backend.Cpu for LLamaSharp.Backend.Cuda12 in every project that has them; the default build asks for the
/// CPU packages only. Checked by evaluating the projects (dotnet msbuild -getItem), which restores nothing: the CUDA
/// packages are not reachable from the project's machines.</summary>
public sealed class AcceleratorSwitchTests
{
    static readonly string[] Projects = ["RegionChat.Llm", "RegionChat.Vision", "RegionChat.Training"];
    static readonly Dictionary<string, string> CudaFor = new()
    {
        ["TorchSharp-cpu"] = "TorchSharp-cuda-linux",
        ["LLamaSharp.Backend.Cpu"] = "LLamaSharp.Backend.Cuda12",
    };

    [Fact]
    public async Task Cuda12SwapsEveryCpuBackendAndTheDefaultKeepsThem()
    {
        foreach (var project in Projects)
        {
            var cpu = await PackageReferencesAsync(project);
            var cuda = await PackageReferencesAsync(project, "-p:Accelerator=cuda12");
            var cpuBackends = cpu.Where(CudaFor.ContainsKey).ToArray();
            Assert.True(cpuBackends.Length > 0, $"{project}: no CPU backend in [{string.Join(", ", cpu)}]");
            Assert.DoesNotContain(cpu, CudaFor.ContainsValue);
            Assert.Equal(cpu.Select(p => CudaFor.GetValueOrDefault(p, p)).Order(), cuda.Order());
        }
    }

    [Fact]
    public async Task AnUnknownAcceleratorStopsTheBuildNamingTheProperty()
    {
        var (exit, output) = await MsBuildAsync("RegionChat.Data", "-t:RegionChatCheckAccelerator", "-p:Accelerator=rocm");
        Assert.NotEqual(0, exit);
        Assert.Contains("Accelerator must be cpu or cuda12, got 'rocm'", output);
        var (ok, _) = await MsBuildAsync("RegionChat.Data", "-t:RegionChatCheckAccelerator", "-p:Accelerator=cuda12");
        Assert.Equal(0, ok);
    }

    static async Task<string[]> PackageReferencesAsync(string project, params string[] properties)
    {
        var (exit, output) = await MsBuildAsync(project, ["-getItem:PackageReference", .. properties]);
        Assert.True(exit == 0, output);
        using var json = JsonDocument.Parse(output);
        return [.. json.RootElement.GetProperty("Items").GetProperty("PackageReference").EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!)];
    }

    static async Task<(int Exit, string Output)> MsBuildAsync(string project, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["msbuild", Path.Combine(SharedFiles.RepoRoot, "src", project, project + ".csproj"), "-nologo", "-nr:false", .. args])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
