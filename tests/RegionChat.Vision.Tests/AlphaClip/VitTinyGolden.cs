using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>The reference PyTorch outputs in ../shared/goldens/alphaclip/vit-tiny (see ../shared/README.md).</summary>
internal sealed class VitTinyGolden : IDisposable
{
    public const string Folder = "goldens/alphaclip/vit-tiny";

    public VitTinyGolden()
    {
        Dir = SharedFiles.Require(Folder);
        Io = StateDictFile.ReadSafetensors(Path.Combine(Dir, "io.safetensors"));
        Config = AlphaClipConfig.FromJsonFile(Path.Combine(Dir, "config.json"));
    }

    public string Dir { get; }
    public Dictionary<string, Tensor> Io { get; }
    public AlphaClipConfig Config { get; }
    public string File(string name) => Path.Combine(Dir, name);
    public Tensor this[string name] => Io[name];

    public void Dispose()
    {
        foreach (var t in Io.Values) t.Dispose();
    }
}

internal static class TensorAssert
{
    public static double MaxAbsError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        return (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
    }

    public static void Close(Tensor expected, Tensor actual, double tolerance, string what)
    {
        double err = MaxAbsError(actual, expected);
        Assert.True(err <= tolerance, $"{what}: max abs error {err:G3} > {tolerance:G3}");
    }
}
