using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RegionChat.Server.TestHost;

namespace RegionChat.Server.Tests;

public class ServerOptionsTests
{
    [Theory]
    [InlineData("ParallelSequences", "0")]
    [InlineData("ContextSize", "100")]
    [InlineData("DefaultMaxTokens", "5000")]
    [InlineData("GpuLayers", "-1")]
    [InlineData("SessionIdleSeconds", "0")]
    [InlineData("Device", "gpu")]
    [InlineData("MaxIdLength", "16")]
    [InlineData("Regions:MaxPoints", "0")]
    [InlineData("Regions:MaxMaskPixels", "-5")]
    [InlineData("Regions:MaxRleRuns", "0")]
    [InlineData("Models:tiny:VisualTokenBudget", "-1")]
    [InlineData("Models:tiny:VisualTokenBudget", "2000000")]
    [InlineData("SessionStore:ImageFolder", "/dev/null/images")]
    [InlineData("VisionDtype", "fp8")]
    [InlineData("VisionMaxBatch", "0")]
    [InlineData("VisionMaxBatch", "257")]
    [InlineData("TowerPixelCacheBytes", "-1")]
    [InlineData("OpenAi:MaxRequestBytes", "0")]
    [InlineData("OtlpTracesEndpoint", "collector:4318")]
    public async Task ABadSettingStopsTheServerAtStartNamingIt(string setting, string value)
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => ServerHost.StartAsync((setting, value)));
        Assert.Contains("RegionChat:" + setting, e.Message);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public async Task DeviceCudaStopsTheStartOfTheCpuBuildSayingNoCudaDeviceIsThere()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => ServerHost.StartAsync(("Device", "cuda")));
        Assert.Contains("RegionChat:Device is cuda but TorchSharp finds no CUDA device", e.Message);
        Assert.Contains("-p:Accelerator=cuda12", e.Message);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("auto")]
    [InlineData("Auto")]
    public async Task DeviceCpuAndAutoStart(string device)
    {
        await using var host = await ServerHost.StartAsync(("Device", device));
        Assert.Equal(device, host.Services.GetRequiredService<IOptions<RegionChat.Server.ServerOptions>>().Value.Device);
    }

    [Theory]
    [InlineData("bfloat16", "bfloat16")]
    [InlineData("float32", "float32")]
    [InlineData("bf16", "bfloat16")]
    [InlineData("auto", null)]
    public async Task VisionDtypeSetsTheTowersNumberTypeAndCaptionsStillCome(string dtype, string? runs)
    {
        await using var host = await ServerHost.StartAsync(("VisionDtype", dtype));
        string expected = runs ?? (RegionChat.Inference.VisionPrecision.CpuHasBf16 ? "bfloat16" : "float32");
        Assert.Equal(expected, host.Model.VisionDtype);
        var caption = await host.Client.CaptionAsync(new RegionChat.Protos.V1.CaptionRequest
        {
            Image = new() { Data = TestImages.SceneBytes(5) }, MaxTokens = 4,
        }, deadline: Calls.Deadline());
        Assert.Equal(16u, caption.Usage.VisualTokens);
    }

    [Fact]
    public async Task GoodSettingsStart()
    {
        await using var host = await ServerHost.StartAsync(("ContextSize", "512"), ("ParallelSequences", "4"), ("GpuLayers", "0"));
        Assert.Equal(512, host.Core.Options.ContextSize);
    }
}

/// <summary>Stored label sets (RegionChat:LabelSets) are checked at start as a request's labels are.</summary>
public class LabelSetOptionsTests
{
    [Theory]
    [InlineData("File", "/no/such/labels.txt", "RegionChat:LabelSets:animals:File: '/no/such/labels.txt' cannot be read")]
    [InlineData("Labels:1", "cat", "RegionChat:LabelSets:animals label 1 repeats 'cat'")]
    [InlineData("Labels:1", " ", "RegionChat:LabelSets:animals label 1 is empty")]
    public async Task ABadLabelSetStopsTheServerAtStartNamingIt(string key, string value, string expected)
    {
        var settings = key == "File" ? [] : new[] { ("LabelSets:animals:Labels:0", "cat") };
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => ServerHost.StartAsync([.. settings, ("LabelSets:animals:" + key, value)]));
        Assert.Contains(expected, e.Message);
    }
}
