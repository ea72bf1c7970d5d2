namespace RegionChat.Vision.Imaging;

/// <summary>
/// The model inputs for one image: <see cref="PixelValues"/> [3,R,R] (normalised RGB, CHW, row-major) and
/// <see cref="Alpha"/> [1,R,R] (Alpha-CLIP's region channel: +1.9231 inside, −1.9231 outside, in between at edges).
/// </summary>
public sealed record PreprocessedImage(float[] PixelValues, float[] Alpha, int Resolution)
{
    public long[] PixelValuesShape => [3, Resolution, Resolution];
    public long[] AlphaShape => [1, Resolution, Resolution];
}
