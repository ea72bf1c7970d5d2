using RegionChat.TestSupport;

namespace RegionChat.Inference.Tests;

/// <summary>RegionChat:LlmThreads: a number is taken as given; 0 gives a GGUF under 64 MB one llama.cpp thread (thread
/// barriers cost such a model more than its work per op) and a larger one RegionChat:Threads.</summary>
public class LlmThreadChoiceTests
{
    [Fact]
    public void ZeroPicksOneThreadBelowTheSizeAndTheThreadsSettingFromIt()
    {
        using var temp = new TempDir();
        string small = temp.File("small.gguf"), large = temp.File("large.gguf");
        using (var f = File.Create(small)) f.SetLength(LlmThreadChoice.OneThreadBelowBytes - 1);
        using (var f = File.Create(large)) f.SetLength(LlmThreadChoice.OneThreadBelowBytes);   // sparse: no disk used
        Assert.Equal(1, LlmThreadChoice.Resolve(0, small, 4));
        Assert.Equal(4, LlmThreadChoice.Resolve(0, large, 4));
        Assert.Equal(3, LlmThreadChoice.Resolve(3, small, 4));
        Assert.Equal(2, LlmThreadChoice.Resolve(2, large, 4));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 2)]
    public void TheLoadedModelRunsLlamaWithTheResolvedCount(int setting, int expected)
    {
        using var temp = new TempDir();
        using var model = RegionChatModel.Load(TinyModel.Write(temp.File("tiny")),
            new RegionChatModelOptions { ContextSize = 512, Threads = 1, LlmThreads = setting, MaxSequences = 1 });
        Assert.Equal(expected, model.LlmThreads);
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(40, 30);
        Assert.Equal(model.VisualTokenCount, model.Encode(image, null).Count);
    }
}

/// <summary>TorchSharp's threads: one for a tower under a GFLOP, the setting for a larger one.</summary>
public class VisionThreadChoiceTests
{
    [Fact]
    public void ATowerUnderAGigaflopGetsOneThreadALargerOneTheSetting()
    {
        var tiny = new Vision.AlphaClipConfig(64, 8, 128, 4, 4, 128);     // shapes-tiny's tower, ~0.1 GFLOP
        Assert.True(tiny.ForwardFlops() < VisionThreadChoice.OneThreadBelowFlops);
        Assert.Equal(1, VisionThreadChoice.For(tiny, 4));
        Assert.Equal(4, VisionThreadChoice.For(Vision.AlphaClipConfig.VitB16, 4));
        Assert.Equal(4, VisionThreadChoice.For(Vision.AlphaClipConfig.VitL14At336, 4));
    }
}
