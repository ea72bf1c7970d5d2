using RegionChat.Vision.Imaging;

namespace RegionChat.Vision.Tests.Imaging;

public class PreprocessedImageTensorsTests
{
    static PreprocessedImage Input(int resolution, float offset) => new(
        Enumerable.Range(0, 3 * resolution * resolution).Select(i => offset + i).ToArray(),
        Enumerable.Range(0, resolution * resolution).Select(i => -offset - i).ToArray(), resolution);

    [Fact]
    public void ABatchHoldsEachInputsPixelsAndAlphaInOrder()
    {
        PreprocessedImage[] inputs = [Input(2, 0), Input(2, 1000), Input(2, 2000)];
        var (pixels, alpha) = inputs.BatchTensors();
        using (pixels)
        using (alpha)
        {
            Assert.Equal([3L, 3, 2, 2], pixels.shape);
            Assert.Equal([3L, 1, 2, 2], alpha.shape);
            for (int i = 0; i < inputs.Length; i++)
            {
                using var p = pixels[i];
                using var a = alpha[i];
                Assert.Equal(inputs[i].PixelValues, p.data<float>().ToArray());
                Assert.Equal(inputs[i].Alpha, a.data<float>().ToArray());
            }
        }
    }

    [Fact]
    public void InputsOfDifferentResolutionsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new[] { Input(2, 0), Input(3, 0) }.BatchTensors());
        Assert.Throws<ArgumentException>(() => Array.Empty<PreprocessedImage>().BatchTensors());
    }
}
