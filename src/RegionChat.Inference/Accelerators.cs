using RegionChat.Llm.Engine;
using TorchSharp;

namespace RegionChat.Inference;

/// <summary>
/// Where the vision tower runs (<c>cpu</c>, <c>cuda</c>, <c>auto</c>) and what the process finds: TorchSharp's CUDA
/// devices and whether the loaded llama.cpp backend can offload layers (GpuLayers).
/// </summary>
/// <remarks>The CPU build (TorchSharp-cpu, LLamaSharp.Backend.Cpu) finds neither; a build with -p:Accelerator=cuda12 may.
/// Only the CPU path runs on the project's machines: the CUDA placement is written but untested.</remarks>
public static class Accelerators
{
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string Auto = "auto";

    public static IReadOnlyList<string> Devices { get; } = [Cpu, Cuda, Auto];

    /// <summary>Whether TorchSharp sees a CUDA device (always false with TorchSharp-cpu).</summary>
    public static bool CudaAvailable => torch.cuda.is_available();

    /// <summary>The problem with a device setting (named <paramref name="setting"/> in the message), or null when it can be used.</summary>
    public static string? Check(string? device, string setting)
    {
        if (device is null || !Devices.Contains(device, StringComparer.OrdinalIgnoreCase))
            return $"{setting} must be one of {string.Join(", ", Devices)}, got '{device}'";
        if (device.Equals(Cuda, StringComparison.OrdinalIgnoreCase) && !CudaAvailable)
            return $"{setting} is {Cuda} but TorchSharp finds no CUDA device (a CPU build has TorchSharp-cpu: build with -p:Accelerator=cuda12 " +
                $"on a machine with an NVIDIA driver), or set it to {Cpu} or {Auto}";
        return null;
    }

    /// <summary>The device a setting resolves to: <c>auto</c> is CUDA device 0 when TorchSharp sees one, else the CPU.</summary>
    public static string Resolve(string device) =>
        device.Equals(Cuda, StringComparison.OrdinalIgnoreCase) || (device.Equals(Auto, StringComparison.OrdinalIgnoreCase) && CudaAvailable)
            ? Cuda : Cpu;

    /// <summary>For the start log: the vision tower's device, what TorchSharp found, and whether llama.cpp can offload.</summary>
    public static (string Vision, string Found, bool Offload) Describe(string device)
    {
        int cudaDevices = CudaAvailable ? torch.cuda.device_count() : 0;
        string found = cudaDevices > 0 ? $"TorchSharp sees {cudaDevices} CUDA device(s)" : "TorchSharp sees no CUDA device";
        return (Resolve(device), found, LlmEngine.SupportsGpuOffload);
    }
}
