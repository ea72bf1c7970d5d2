using System.Runtime.CompilerServices;

namespace RegionChat.Vision.Tests;

public class TorchCpuKernelsTests
{
    static readonly string? FromOutside = Environment.GetEnvironmentVariable(TorchCpuKernels.Variable);

#pragma warning disable CA2255 // as the CLI and the server do: choose before this process's first torch op
    [ModuleInitializer]
    internal static void ChooseFirst() => TorchCpuKernels.Apply();
#pragma warning restore CA2255

    static HashSet<string> Avx512Cpu() => ["fpu", "sse2", "avx2", .. TorchCpuKernels.Avx512Flags, "avx512_bf16"];

    [Fact]
    public void AValueFromOutsideIsKept()
    {
        var (set, reason) = TorchCpuKernels.Decide(Avx512Cpu(), "avx2");
        Assert.Null(set);
        Assert.Equal("ATEN_CPU_CAPABILITY=avx2 from the environment", reason);
    }

    [Fact]
    public void Avx512IsSetOnlyWhenTheCpuListsEveryFlagLibtorchAsks()
    {
        Assert.Equal("avx512", TorchCpuKernels.Decide(Avx512Cpu(), null).Set);
        foreach (string flag in TorchCpuKernels.Avx512Flags)
        {
            var cpu = Avx512Cpu();
            cpu.Remove(flag);
            var (set, reason) = TorchCpuKernels.Decide(cpu, null);
            Assert.Null(set);
            Assert.Equal("libtorch's own choice", reason);
        }
    }

    [Fact]
    public void LibtorchRunsTheChosenKernels()
    {
        using var probe = TorchSharp.torch.ones(4).softmax(0);   // an op, as a forward's would be
        string? inEffect = TorchCpuKernels.InEffect;
        if (FromOutside != null) Assert.Equal(FromOutside, inEffect);
        else if (TorchCpuKernels.Decide(CpuFlags.All, null).Set is { } chosen)
        {
            Assert.Equal(chosen, inEffect);
            Assert.StartsWith("ATEN_CPU_CAPABILITY=avx512 set by RegionChat", TorchCpuKernels.Reason);
        }
        else Assert.Contains(inEffect, new[] { "avx2", "default" });
    }
}
