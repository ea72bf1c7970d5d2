using RegionChat.Vision.Imaging.Internal;

namespace RegionChat.Vision.Tests.Imaging;

public class PilResamplerTests
{
    static byte[] Resize1D(byte[] row, int outWidth, ResampleFilter filter) =>
        PilResampler.Resize(new PaddedSource(row.Length, 1, 0, 0, row.Length, 1, [0], (_, r) => row.CopyTo(r)),
            outWidth, 1, 0, 0, outWidth, 1, filter);

    [Fact]
    public void BilinearUpscaleOfTwoPixelsMatchesHandComputedPillowValues()
    {
        // Pillow: scale 0.5, support 1. Output 1 has centre 0.75: taps x=0 (distance 0.25, weight 0.75) and x=1 (0.25),
        // so 0.25·255 = 63.75 → 64; output 0 sees only x=0 (its other tap lies outside), output 3 only x=1.
        Assert.Equal(new byte[] { 0, 64, 191, 255 }, Resize1D([0, 255], 4, ResampleFilter.Bilinear));
    }

    [Fact]
    public void BicubicUpscaleOfTwoPixelsMatchesHandComputedPillowValues()
    {
        // Keys cubic a=-0.5. Output 1 (centre 0.75): weights k(0.25)=0.8671875 on x=0 and k(0.75)=0.2265625 on x=1,
        // normalised → 0.2265625/1.09375·255 = 52.8 → 53. Output 0: k(0.25) and k(1.25)=-0.0703125 → negative → clipped to 0.
        Assert.Equal(new byte[] { 0, 53, 202, 255 }, Resize1D([0, 255], 4, ResampleFilter.Bicubic));
    }

    [Fact]
    public void ConstantImageStaysConstantWhenShrinkingAndGrowing()
    {
        var row = Enumerable.Repeat((byte)137, 997).ToArray();
        Assert.All(Resize1D(row, 336, ResampleFilter.Bicubic), v => Assert.Equal(137, v));
        Assert.All(Resize1D([137, 137, 137], 336, ResampleFilter.Bicubic), v => Assert.Equal(137, v));
    }

    [Fact]
    public void ShrinkingAveragesOverTheScaledKernel()
    {
        // Alternating 0/255 shrunk 8× must come out near mid-grey everywhere (antialiasing), not 0 or 255 as point sampling would.
        var row = Enumerable.Range(0, 800).Select(i => (byte)(i % 2 == 0 ? 0 : 255)).ToArray();
        Assert.All(Resize1D(row, 100, ResampleFilter.Bicubic), v => Assert.InRange(v, 120, 135));
    }

    [Fact]
    public void VirtualPaddingEqualsMaterialisedPadding()
    {
        // A 5×3 image centred on a 5×5 canvas of value 90, given as padding, must resize exactly like the full canvas.
        var rnd = new Random(3);
        var image = new byte[5 * 3];
        rnd.NextBytes(image);
        var canvas = Enumerable.Repeat((byte)90, 25).ToArray();
        image.CopyTo(canvas, 5);
        var padded = PilResampler.Resize(new PaddedSource(5, 5, 0, 1, 5, 3, [90], (y, r) => image.AsSpan(y * 5, 5).CopyTo(r)),
            7, 7, 0, 0, 7, 7, ResampleFilter.Bicubic);
        var full = PilResampler.Resize(new PaddedSource(5, 5, 0, 0, 5, 5, [90], (y, r) => canvas.AsSpan(y * 5, 5).CopyTo(r)),
            7, 7, 0, 0, 7, 7, ResampleFilter.Bicubic);
        Assert.Equal(full, padded);
    }

    [Fact]
    public void WindowEqualsCropOfTheFullResize()
    {
        var rnd = new Random(5);
        var image = new byte[30 * 20 * 3];
        rnd.NextBytes(image);
        var source = new PaddedSource(30, 20, 0, 0, 30, 20, [0, 0, 0], (y, r) => image.AsSpan(y * 90, 90).CopyTo(r));
        var full = PilResampler.Resize(source, 17, 11, 0, 0, 17, 11, ResampleFilter.Bicubic);
        var window = PilResampler.Resize(source, 17, 11, 4, 2, 9, 6, ResampleFilter.Bicubic);
        for (int y = 0; y < 6; y++)
            Assert.Equal(full.AsSpan(((y + 2) * 17 + 4) * 3, 9 * 3).ToArray(), window.AsSpan(y * 9 * 3, 9 * 3).ToArray());
    }
}
