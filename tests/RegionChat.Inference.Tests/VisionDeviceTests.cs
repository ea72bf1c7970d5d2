using RegionChat.TestSupport;
using TorchSharp;

namespace RegionChat.Inference.Tests;

/// <summary>RegionChatModelOptions.VisionDevice: auto and cpu place the tower on the CPU of this (CUDA-less) build and
/// encode; cuda and unknown names are refused before anything loads, naming the setting.</summary>
public class VisionDeviceTests
{
    [Theory]
    [InlineData("auto")]
    [InlineData("CPU")]
    public void AutoAndCpuEncodeOnTheCpu(string device)
    {
        Assert.False(Accelerators.CudaAvailable, "this test expects the CPU build");
        using var temp = new TempDir();
        using var model = RegionChatModel.Load(TinyModel.Write(temp.File("tiny")),
            new RegionChatModelOptions { ContextSize = 1024, Threads = 1, MaxSequences = 1, VisionDevice = device });
        Assert.Equal(DeviceType.CPU, model.VisionDevice.type);
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(40, 30);
        var tokens = model.Encode(image, null);
        Assert.Equal(model.VisualTokenCount, tokens.Count);
        Assert.Equal((long)tokens.Count * tokens.Width * sizeof(float), tokens.SizeBytes);
    }

    [Theory]
    [InlineData("cuda", "TorchSharp finds no CUDA device")]
    [InlineData("gpu", "must be one of cpu, cuda, auto")]
    public void CudaWithoutADeviceAndUnknownNamesAreRefused(string device, string reason)
    {
        using var temp = new TempDir();
        string dir = TinyModel.Write(temp.File("tiny"));
        var e = Assert.Throws<ArgumentException>(() => RegionChatModel.Load(dir, new RegionChatModelOptions { VisionDevice = device }));
        Assert.Contains("VisionDevice", e.Message);
        Assert.Contains(reason, e.Message);
    }
}
