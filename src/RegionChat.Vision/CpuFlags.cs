namespace RegionChat.Vision;

/// <summary>The instruction-set flags Linux lists for this CPU (the first "flags" line of /proc/cpuinfo; empty elsewhere).
/// The kernel lists an extension only when it also saves its registers, so a listed flag is safe to use.</summary>
public static class CpuFlags
{
    public static IReadOnlySet<string> All { get; } = Read();

    public static bool Has(string flag) => All.Contains(flag);

    static HashSet<string> Read()
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
