using RegionChat.TestSupport;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit.Abstractions;

namespace RegionChat.Vision.Tests.Imaging;

/// <summary>Compares with ../shared/goldens/preprocess-336, computed by a Pillow-based reference (LLaVA pad mode).</summary>
public class GoldenPreprocessTests(ITestOutputHelper output)
{
    internal static (float MeanAbs, float MaxAbs) Errors(float[] ours, torch.Tensor reference)
    {
        float[] theirs = reference.data<float>().ToArray();
        Assert.Equal(theirs.Length, ours.Length);
        double sum = 0, max = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            double d = Math.Abs(ours[i] - theirs[i]);
            sum += d;
            max = Math.Max(max, d);
        }
        return ((float)(sum / ours.Length), (float)max);
    }

    [SkippableFact]
    public void PadModeMatchesPillowReference()
    {
        string dir = SharedFiles.Require("goldens/preprocess-336");
        using var image = ImageLoader.Load(Path.Combine(dir, "scene.png"));
        var region = MaskRegion.Load(Path.Combine(dir, "region.png"));
        var result = new ClipPreprocessor(new PreprocessOptions { Resolution = 336, Mode = SquareMode.Pad }).Process(image, region);

        var golden = Safetensors.LoadStateDict(Path.Combine(dir, "preprocess.safetensors"), null);
        Assert.Equal(result.PixelValuesShape, golden["pixel_values"].shape);
        Assert.Equal(result.AlphaShape, golden["alpha"].shape);

        var (pixelMean, pixelMax) = Errors(result.PixelValues, golden["pixel_values"]);
        var (alphaMean, alphaMax) = Errors(result.Alpha, golden["alpha"]);
        output.WriteLine($"pixel_values mean abs {pixelMean:G3} max {pixelMax:G3}; alpha mean abs {alphaMean:G3} max {alphaMax:G3}");
        Assert.True(pixelMean <= 0.005f, $"pixel_values mean abs error {pixelMean}");
        Assert.True(pixelMax <= 0.35f, $"pixel_values max abs error {pixelMax}");
        Assert.True(alphaMean <= 0.02f, $"alpha mean abs error {alphaMean}");
        // Stronger than the acceptance tolerances: the resampler reproduces Pillow's integer arithmetic, so only float
        // rounding of the normalisation may differ.
        Assert.True(pixelMax <= 1e-5f && alphaMax <= 1e-5f, $"expected a bit-exact match with Pillow, max errors {pixelMax} / {alphaMax}");
    }
}
