using TorchSharp;

namespace RegionChat.Vision.Tests;

public class TorchSharpLoadsTests
{
    [Fact]
    public void NativeLibraryLoadsAndComputes()
    {
        // Fails with "type initializer for TorchSharp.torch threw" when the GLIBCXX patch was not applied to this output.
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = a.matmul(a.t());
        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [Fact]
    public void TestsRunWithOneOpenMpThread()
    {
        Assert.Equal("1", Environment.GetEnvironmentVariable("OMP_NUM_THREADS"));
    }
}
