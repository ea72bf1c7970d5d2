using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Imaging;

public class ClipPreprocessorTests
{
    static readonly IReadOnlyList<float> Mean = PreprocessOptions.ClipMean, Std = PreprocessOptions.ClipStd;

    static float Norm(int value, int channel) => (value / 255f - Mean[channel]) / Std[channel];

    static float Pixel(PreprocessedImage p, int channel, int x, int y) =>
        p.PixelValues[(channel * p.Resolution + y) * p.Resolution + x];

    /// <summary>400×200: red x∈[0,100), green [100,300), blue [300,400).</summary>
    static Image<Rgb24> Stripes()
    {
        var image = new Image<Rgb24>(400, 200);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                    row[x] = x < 100 ? new Rgb24(255, 0, 0) : x < 300 ? new Rgb24(0, 255, 0) : new Rgb24(0, 0, 255);
            }
        });
        return image;
    }

    [Fact]
    public void CropModeKeepsTheCentreOfTheLongSide()
    {
        // Short side 200 → 100, so 400×200 → 200×100; the centre 100×100 is the green band [100,300) of the original.
        using var image = Stripes();
        var p = new ClipPreprocessor(new PreprocessOptions { Resolution = 100, Mode = SquareMode.Crop }).Process(image);
        Assert.Equal(100, p.Resolution);
        Assert.Equal(3 * 100 * 100, p.PixelValues.Length);
        for (int y = 0; y < 100; y++)
        for (int x = 3; x < 97; x++) // the bicubic kernel reaches 2 output pixels past the band edges
        {
            Assert.Equal(Norm(0, 0), Pixel(p, 0, x, y), 5);
            Assert.Equal(Norm(255, 1), Pixel(p, 1, x, y), 5);
            Assert.Equal(Norm(0, 2), Pixel(p, 2, x, y), 5);
        }
        Assert.All(p.Alpha, a => Assert.Equal(ClipPreprocessor.AlphaInside, a));
    }

    [Fact]
    public void PadModeKeepsEverythingAndPadsWithTheMeanColour()
    {
        // 400×200 pads to 400×400 with rows [100,300) holding the image; at R=100 rows [25,75) are image, the rest padding.
        using var image = Stripes();
        var p = new ClipPreprocessor(new PreprocessOptions { Resolution = 100, Mode = SquareMode.Pad }).Process(image);
        (int r, int g, int b) pad = (122, 116, 104); // LLaVA's int(mean·255)
        for (int x = 0; x < 100; x++)
        {
            Assert.Equal(Norm(pad.r, 0), Pixel(p, 0, x, 5), 5);
            Assert.Equal(Norm(pad.g, 1), Pixel(p, 1, x, 5), 5);
            Assert.Equal(Norm(pad.b, 2), Pixel(p, 2, x, 94), 5);
        }
        Assert.Equal(Norm(255, 0), Pixel(p, 0, 10, 50), 5); // red band on the left
        Assert.Equal(Norm(255, 1), Pixel(p, 1, 50, 50), 5); // green in the middle
        Assert.Equal(Norm(255, 2), Pixel(p, 2, 90, 50), 5); // blue on the right
    }

    [Fact]
    public void PaddingIsOutsideTheRegionAndTheRegionFollowsTheGeometry()
    {
        using var image = Stripes();
        var options = new PreprocessOptions { Resolution = 100 };
        // The green band as a box region: x∈[100,300) → output columns [25,75), image rows → output rows [25,75).
        var p = new ClipPreprocessor(options).Process(image, new BoxRegion(100, 0, 300, 200));
        float Alpha(int x, int y) => p.Alpha[y * 100 + x];
        Assert.Equal(-ClipPreprocessor.AlphaInside, Alpha(50, 5), 5);   // padding row
        Assert.Equal(ClipPreprocessor.AlphaInside, Alpha(50, 50), 5);   // inside the box
        Assert.Equal(-ClipPreprocessor.AlphaInside, Alpha(10, 50), 5);  // red band, outside the box
        Assert.InRange(Alpha(25, 50), -ClipPreprocessor.AlphaInside, ClipPreprocessor.AlphaInside); // bilinear edge
    }

    [Fact]
    public void WholeImageRegionAndNoRegionGiveAllInsideAlpha()
    {
        using var image = Stripes();
        var pre = new ClipPreprocessor(new PreprocessOptions { Resolution = 32 });
        Assert.All(pre.Process(image, WholeImageRegion.Instance).Alpha, a => Assert.Equal(1.9230769f, a, 5));
        Assert.All(pre.Process(image, (Region?)null).Alpha, a => Assert.Equal(1.9230769f, a, 5));
    }

    [Fact]
    public void SquareImagesGiveTheSameResultInPadAndCropMode()
    {
        using var image = new Image<Rgb24>(90, 90);
        var rnd = new Random(7);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (ref var px in rows.GetRowSpan(y)) px = new Rgb24((byte)rnd.Next(256), (byte)rnd.Next(256), (byte)rnd.Next(256));
        });
        var region = new PolygonRegion([new(10, 10), new(80, 20), new(40, 85)]);
        var pad = new ClipPreprocessor(new PreprocessOptions { Resolution = 57, Mode = SquareMode.Pad }).Process(image, region);
        var crop = new ClipPreprocessor(new PreprocessOptions { Resolution = 57, Mode = SquareMode.Crop }).Process(image, region);
        Assert.Equal(pad.PixelValues, crop.PixelValues);
        Assert.Equal(pad.Alpha, crop.Alpha);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(224)]
    [InlineData(333)]
    public void AnyResolutionAndPortraitImagesWork(int resolution)
    {
        using var image = new Image<Rgb24>(37, 101, new Rgb24(10, 200, 30));
        foreach (var mode in new[] { SquareMode.Pad, SquareMode.Crop })
        {
            var p = new ClipPreprocessor(new PreprocessOptions { Resolution = resolution, Mode = mode })
                .Process(image, new BoxRegion(0, 0, 37, 50));
            Assert.Equal(new long[] { 3, resolution, resolution }, p.PixelValuesShape);
            Assert.Equal(resolution * resolution, p.Alpha.Length);
            Assert.All(p.PixelValues, v => Assert.True(float.IsFinite(v)));
            if (mode == SquareMode.Crop) Assert.Equal(Norm(200, 1), Pixel(p, 1, resolution / 2, resolution / 2), 5);
        }
    }

    [Fact]
    public void TensorsHaveTheRecordsShapesAndValues()
    {
        using var image = new Image<Rgb24>(20, 10, new Rgb24(255, 255, 255));
        var p = new ClipPreprocessor(new PreprocessOptions { Resolution = 8 }).Process(image, new BoxRegion(0, 0, 10, 10));
        using var pixels = p.PixelValuesTensor();
        using var alpha = p.AlphaTensor(batch: true);
        Assert.Equal(new long[] { 3, 8, 8 }, pixels.shape);
        Assert.Equal(new long[] { 1, 1, 8, 8 }, alpha.shape);
        Assert.Equal(p.PixelValues, pixels.data<float>().ToArray());
        Assert.Equal(p.Alpha, alpha.data<float>().ToArray());
    }

    [Fact]
    public void BadOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PreprocessOptions { Resolution = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new PreprocessOptions { Resolution = 100_000 });
        Assert.Throws<ArgumentException>(() => new PreprocessOptions { Mean = [0.5f, 0.5f] });
        Assert.Throws<ArgumentOutOfRangeException>(() => new PreprocessOptions { Std = [0.5f, 0f, 0.5f] });
        using var image = new Image<Rgb24>(20, 10);
        Assert.Throws<ArgumentException>(() => new ClipPreprocessor().Process(image, new RegionMask(10, 10)));
    }

    [Theory]
    [InlineData(SquareMode.Pad)]
    [InlineData(SquareMode.Crop)]
    public void AnImagesPixelValuesServeEachOfItsRegionsAsAWholePreprocessWould(SquareMode mode)
    {
        using var image = new Image<Rgb24>(130, 70);
        var rnd = new Random(11);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (ref var px in rows.GetRowSpan(y)) px = new Rgb24((byte)rnd.Next(256), (byte)rnd.Next(256), (byte)rnd.Next(256));
        });
        var preprocessor = new ClipPreprocessor(new PreprocessOptions { Resolution = 48, Mode = mode });
        float[] pixels = preprocessor.PixelValues(image);
        var alphas = new List<float[]>();
        foreach (Region? region in new Region?[] { null, new BoxRegion(10, 5, 90, 60), new PolygonRegion([new(10, 10), new(120, 20), new(40, 65)]) })
        {
            var whole = preprocessor.Process(image, region);
            var shared = preprocessor.WithRegion(pixels, image.Width, image.Height, region);
            Assert.Same(pixels, shared.PixelValues);
            Assert.Equal(whole.PixelValues, shared.PixelValues);
            Assert.Equal(whole.Alpha, shared.Alpha);
            Assert.Equal(whole.Resolution, shared.Resolution);
            alphas.Add(shared.Alpha);
        }
        Assert.NotEqual(alphas[1], alphas[2]);   // the regions differ, so equal alphas above are not all-inside alphas
        Assert.Throws<ArgumentException>(() => preprocessor.WithRegion(new float[10], image.Width, image.Height, null));
    }
}
