using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace RegionChat.Vision;

/// <summary>
/// Which vector kernels libtorch's own CPU ops run (ATen's "CPU capability": softmax, layer norm, activations, copies,
/// scaled-dot-product attention, the bf16 products outside oneDNN). libtorch fixes it at its first op, from
/// ATEN_CPU_CAPABILITY or else from its cpuinfo library, which on some virtual machines finds no AVX-512 that Linux
/// lists (a 2-core AMD EPYC VM here: AVX2 kernels, and the bf16 ViT-L/14@336 tower took 1.36 s per image against 0.86 s
/// with AVX-512; float32, whose products are MKL's, was the same). So before the first op, when the variable is unset
/// and /proc/cpuinfo lists avx512f, avx512vl, avx512bw, avx512dq and fma (libtorch's own condition for its AVX-512
/// kernels), this sets ATEN_CPU_CAPABILITY=avx512. A value set outside is kept: ATEN_CPU_CAPABILITY=avx2 undoes it.
/// </summary>
public static partial class TorchCpuKernels
{
    public const string Variable = "ATEN_CPU_CAPABILITY";

    /// <summary>The flags libtorch asks of a CPU before it runs its AVX-512 kernels.</summary>
    public static IReadOnlyList<string> Avx512Flags { get; } = ["avx512f", "avx512vl", "avx512bw", "avx512dq", "fma"];

    /// <summary>Why the kernels are what they are: the variable from outside, set here, or libtorch's own choice.</summary>
    public static string Reason { get; } = Choose();

    /// <summary>Makes the choice (once); call it before the process's first torch op. Loading this assembly does it too.</summary>
    public static void Apply() => _ = Reason;

    /// <summary>The capability libtorch runs ("avx512", "avx2", "default": at::get_cpu_capability in lower case), or null when
    /// it cannot be asked. Asking fixes it, so only ask after <see cref="Apply"/>.</summary>
    public static string? InEffect => AskedOnce.Value;

    static readonly Lazy<string?> AskedOnce = new(AskLibtorch);

#pragma warning disable CA2255 // the choice must precede any torch op, whoever makes the first one
    [ModuleInitializer]
    internal static void OnLoad() => Apply();
#pragma warning restore CA2255

    /// <summary>The value to set (null: none) and the reason, for a CPU's flags and the variable's current value.</summary>
    public static (string? Set, string Reason) Decide(IReadOnlySet<string> flags, string? current) =>
        current != null ? (null, $"{Variable}={current} from the environment")
        : Avx512Flags.All(flags.Contains) ? ("avx512", $"{Variable}=avx512 set by RegionChat: the CPU lists {string.Join(", ", Avx512Flags)}")
        : (null, "libtorch's own choice");

    static string Choose()
    {
        var (set, reason) = Decide(CpuFlags.All, Environment.GetEnvironmentVariable(Variable));
        if (set == null || !OperatingSystem.IsLinux()) return set == null ? reason : "libtorch's own choice";
        try
        {
            // .NET's SetEnvironmentVariable changes only its own copy; libtorch reads the C environment.
            return SetEnv(Variable, set, 0) == 0 ? reason : "libtorch's own choice (setenv failed)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "libtorch's own choice (no setenv)";
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>Calls <c>std::string at::get_cpu_capability()</c>. The Itanium C++ ABI returns the string through a
    /// caller-supplied 32-byte slot: data pointer, length, then a 16-byte inline buffer that holds names this short.</summary>
    static unsafe string? AskLibtorch()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        _ = TorchSharp.torch.get_num_threads();   // loads libtorch the way TorchSharp does
        if (!NativeLibrary.TryLoad("libtorch_cpu.so", typeof(TorchSharp.torch).Assembly, null, out var lib)) return null;
        if (!NativeLibrary.TryGetExport(lib, "_ZN2at18get_cpu_capabilityB5cxx11Ev", out var function)) return null;
        byte* slot = stackalloc byte[32];
        ((delegate* unmanaged<byte*, byte*>)function)(slot);
        byte* data = *(byte**)slot;
        long length = *(long*)(slot + 8);
        // A longer string would sit on libtorch's heap (left there: no capability name is that long).
        return data == slot + 16 && length is > 0 and < 16 ? Encoding.ASCII.GetString(data, (int)length).ToLowerInvariant() : null;
    }
}
