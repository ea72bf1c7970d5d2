using LLama.Native;
using TorchSharp;

namespace RegionChat.Server.Internal;

/// <summary>
/// RegionChat:Device (cpu, cuda, auto) for the vision tower and what the process finds: TorchSharp's CUDA devices and
/// whether the loaded llama.cpp backend can offload layers (RegionChat:GpuLayers).
/// </summary>
/// <remarks>The CPU build (TorchSharp-cpu, LLamaSharp.Backend.Cpu) finds neither; a build with -p:Accelerator=cuda12 may.
/// PLACEHOLDER (issue 14 item 4): the model loader (src/RegionChat.Inference, RegionChatModel.Load) has no device
/// option yet, so the vision tower runs on the CPU even where CUDA is found: "cuda" is refused at start rather than
/// ignored, and "auto" resolves to the CPU and says why. These probes belong in the core with that option; until then
/// they ask TorchSharp and LLamaSharp directly (no RegionChat.Vision or RegionChat.Llm type: LayeringTests).</remarks>
internal static class Accelerators
{
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string Auto = "auto";

    public static readonly string[] Devices = [Cpu, Cuda, Auto];

    /// <summary>Whether TorchSharp sees a CUDA device (always false with TorchSharp-cpu).</summary>
    public static bool CudaAvailable => torch.cuda.is_available();

    /// <summary>The problem with a RegionChat:Device value, or null when it can be used.</summary>
    public static string? Check(string? device)
    {
        string setting = $"{ServerOptions.Section}:{nameof(ServerOptions.Device)}";
        if (device is null || !Devices.Contains(device, StringComparer.OrdinalIgnoreCase))
            return $"{setting} must be one of {string.Join(", ", Devices)}, got '{device}'";
        if (!device.Equals(Cuda, StringComparison.OrdinalIgnoreCase)) return null;
        if (!CudaAvailable)
            return $"{setting} is {Cuda} but TorchSharp finds no CUDA device (a CPU build has TorchSharp-cpu: build with -p:Accelerator=cuda12 " +
                $"on a machine with an NVIDIA driver), or set it to {Cpu} or {Auto}";
        return $"{setting} is {Cuda}, but the vision tower cannot be placed on a GPU yet: the model loader (RegionChat.Inference) " +
            $"has no device option (issue 14 item 4); set it to {Cpu} or {Auto}";
    }

    /// <summary>One line for the start log: the vision tower's device and why, and llama.cpp's offload.</summary>
    public static (string Vision, string Found, bool Offload) Describe(string device)
    {
        int cudaDevices = CudaAvailable ? torch.cuda.device_count() : 0;
        string found = cudaDevices > 0 ? $"TorchSharp sees {cudaDevices} CUDA device(s)" : "TorchSharp sees no CUDA device";
        if (cudaDevices > 0 && device.Equals(Auto, StringComparison.OrdinalIgnoreCase))
            found += ", but the model loader cannot place the vision tower on one yet (issue 14 item 4)";
        return (Cpu, found, NativeApi.llama_supports_gpu_offload());
    }
}
