using TorchSharp;

namespace RegionChat.Inference;

/// <summary>
/// The vision tower's number type: a manifest's <c>vision.dtype</c> or the server's <c>RegionChat:VisionDtype</c>
/// (float32, bfloat16, float16 or auto; fp32, bf16 and fp16 name the first three). <c>auto</c> is bfloat16 on a CPU with bf16 matrix instructions (AVX512-BF16
/// or AMX, which libtorch's oneDNN kernels use: the tower runs about twice as fast), float32 everywhere else.
/// </summary>
public static class VisionPrecision
{
    public const string Auto = "auto";
    public static IReadOnlyList<string> Names { get; } = ["float32", "bfloat16", "float16", Auto];

    /// <summary>Whether this CPU has bf16 matrix instructions (Linux: the avx512_bf16 or amx_bf16 flag in /proc/cpuinfo).</summary>
    public static bool CpuHasBf16 { get; } = ReadCpuFlags().Overlaps(["avx512_bf16", "amx_bf16"]);

    /// <summary>Short names taken for the full ones: the spelling of `bench vision --dtype`, PyTorch users and llama.cpp.</summary>
    static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["fp32"] = "float32", ["bf16"] = "bfloat16", ["fp16"] = "float16",
    };

    /// <summary>The full name of a dtype name or alias (fp32, bf16, fp16); other strings unchanged.</summary>
    public static string Canonical(string dtype) => Aliases.TryGetValue(dtype, out var full) ? full : dtype;

    /// <summary>The problem with a dtype name (named <paramref name="setting"/> in the message), or null.</summary>
    public static string? Check(string? dtype, string setting) => dtype != null && Names.Contains(Canonical(dtype)) ? null
        : $"{setting} must be one of {string.Join(", ", Names)} (or {string.Join(", ", Aliases.Keys)}), got '{dtype}'";

    /// <summary>The full name a dtype setting resolves to on <paramref name="device"/> ("cpu" or "cuda"); auto stays
    /// float32 on CUDA, where it is untested.</summary>
    public static string Resolve(string dtype, string device) => Canonical(dtype) is var full && full != Auto ? full
        : device == Accelerators.Cpu && CpuHasBf16 ? "bfloat16" : "float32";

    public static torch.ScalarType ScalarType(string resolved) => resolved switch
    {
        "bfloat16" => torch.ScalarType.BFloat16,
        "float16" => torch.ScalarType.Float16,
        _ => torch.ScalarType.Float32,
    };

    static HashSet<string> ReadCpuFlags()
    {
        try
        {
            const string CpuInfo = "/proc/cpuinfo";
            var line = File.Exists(CpuInfo) ? File.ReadLines(CpuInfo).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) : null;
            return line == null ? [] : [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }
}
